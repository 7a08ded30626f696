using System.Globalization;

namespace OrleansTasks.Chaos;

/// <summary>Command-line settings of a chaos run.</summary>
public sealed record ChaosSettings
{
    public int Jobs { get; init; } = 2000;
    public int Silos { get; init; } = 3;
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(60);
    public TimeSpan KillEvery { get; init; } = TimeSpan.FromSeconds(6);
    public int? MaxKills { get; init; }
    public bool RestartRedis { get; init; } = true;

    /// <summary><c>tuned</c> (the docker-compose settings) or <c>default</c> (Orleans' own).</summary>
    public string Membership { get; init; } = "tuned";
    public string Configuration { get; init; } = "Release";
    public bool Build { get; init; } = true;
    public TimeSpan Deadline { get; init; } = TimeSpan.FromMinutes(4);

    public const string Usage = """
        usage: dotnet run --project tools/Chaos -c Release -- [options]
          --jobs N            jobs to submit (2000)
          --silos N           silo processes (3)
          --duration S        seconds of kills (60)
          --kill-every S      seconds between SIGKILLs (6)
          --max-kills N       stop killing after N kills
          --no-redis-restart  skip the Redis restart
          --membership M      tuned | default (tuned)
          --configuration C   build configuration of the silo and API binaries (Release)
          --no-build          use existing binaries
          --deadline S        seconds to wait for every job to finish after the kills (240)
          --quick             200 jobs, 2 kills, ~20 s of chaos: the variant ./test.sh runs
        """;

    public static ChaosSettings Parse(string[] args)
    {
        var settings = new ChaosSettings();
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.\n{Usage}");
            int Int() => int.Parse(Next(), CultureInfo.InvariantCulture);
            settings = args[i] switch
            {
                "--jobs" => settings with { Jobs = Int() },
                "--silos" => settings with { Silos = Int() },
                "--duration" => settings with { Duration = TimeSpan.FromSeconds(Int()) },
                "--kill-every" => settings with { KillEvery = TimeSpan.FromSeconds(Int()) },
                "--max-kills" => settings with { MaxKills = Int() },
                "--no-redis-restart" => settings with { RestartRedis = false },
                "--membership" => settings with { Membership = Next() is "tuned" or "default" ? args[i] : throw new ArgumentException(Usage) },
                "--configuration" => settings with { Configuration = Next() },
                "--no-build" => settings with { Build = false },
                "--deadline" => settings with { Deadline = TimeSpan.FromSeconds(Int()) },
                "--quick" => settings with { Jobs = 200, Duration = TimeSpan.FromSeconds(20), KillEvery = TimeSpan.FromSeconds(7), MaxKills = 2, Deadline = TimeSpan.FromMinutes(2) },
                _ => throw new ArgumentException($"unknown option {args[i]}\n{Usage}"),
            };
        }

        return settings;
    }

    /// <summary>Environment for every silo: the membership profile under test.</summary>
    public IReadOnlyDictionary<string, string> MembershipEnvironment => Membership == "tuned"
        ? new Dictionary<string, string>
        {
            // The docker-compose.yml values.
            ["Orleans__Membership__ProbeTimeout"] = "00:00:02",
            ["Orleans__Membership__NumMissedProbesLimit"] = "2",
            ["Jobs__RecoveryInterval"] = "00:00:05",
        }
        : new Dictionary<string, string>
        {
            // Orleans' membership defaults and the engine's default recovery tick.
            ["Jobs__RecoveryInterval"] = "00:00:15",
        };
}
