using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OrleansTasks.Hosting;
using OrleansTasks.Jobs.Store;
using OrleansTasks.Jobs;
using StackExchange.Redis;

namespace OrleansTasks.Silo;

/// <summary>
/// <c>dotnet OrleansTasks.Silo.dll reindex [--verify-only]</c>: compares the job indexes (listings, counts, expiries)
/// with a full scan of the stored job states and, unless <c>--verify-only</c>, moves jobs still stored by the stock
/// provider and rewrites what differs. Idempotent and safe beside running silos. Reads the silo's configuration
/// (appsettings.json, environment, <c>--Key=value</c> arguments) and job types, and starts no silo.
/// Exit codes: 0 the indexes are exact (now); 1 mismatches (found by <c>--verify-only</c>, or left after a fix);
/// 2 usage, configuration or connection error.
/// </summary>
public static class ReindexCommand
{
    /// <summary>The first argument that selects this command.</summary>
    public const string Name = "reindex";

    /// <summary>Report only; change nothing.</summary>
    public const string VerifyOnly = "--verify-only";

    private const string Usage =
        "usage: OrleansTasks.Silo reindex [--verify-only] [--Key=value ...]\n" +
        "  Checks the job indexes against the stored jobs and, without --verify-only, rebuilds them.\n" +
        "  Configuration as the silo's: ConnectionStrings:Redis, Orleans:ServiceId, Jobs:Retention.\n" +
        "  Exit codes: 0 exact (now), 1 mismatches, 2 usage, configuration or connection error.";

    private static readonly JsonSerializerOptions ReportJson = new(JsonSerializerDefaults.Web);

    /// <summary>Runs the command; writes a human line and then one JSON line to <paramref name="output"/>. Returns the exit code.</summary>
    public static async Task<int> RunAsync(string[] args, Action<JobTypeRegistryBuilder>? addJobs, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        if (args.Any(a => a is "--help" or "-h"))
        {
            await output.WriteLineAsync(Usage);
            return 0;
        }

        var verifyOnly = args.Contains(VerifyOnly, StringComparer.Ordinal);
        string[] configurationArgs = [.. args.Where(a => a != VerifyOnly)];
        if (Unexpected(configurationArgs) is { } unexpected)
        {
            await error.WriteLineAsync($"reindex: unexpected argument '{unexpected}'.\n{Usage}");
            return 2;
        }

        var builder = SiloHost.CreateBuilder(configurationArgs);
        ClusterSettings cluster;
        JobRetention retention;
        try
        {
            cluster = ClusterSettings.Bind(builder.Configuration);

            // The silos' job types and Jobs:Retention: a type's own retention decides its jobs' expiry entries.
            var services = new ServiceCollection().AddSingleton<IConfiguration>(builder.Configuration);
            SiloHost.AddJobTypes(services, builder.Configuration, addJobs);
            await using var provider = services.BuildServiceProvider();
            _ = provider.GetRequiredService<IOptions<JobsOptions>>().Value;
            retention = provider.GetRequiredService<JobRetention>();
        }
        catch (OptionsValidationException ex)
        {
            await error.WriteLineAsync($"reindex: bad configuration: {string.Join(" ", ex.Failures)}");
            return 2;
        }

        if (cluster.Redis is null)
        {
            await error.WriteLineAsync(
                $"reindex: no Redis configured. Set {ClusterSettings.RedisKey} (environment ConnectionStrings__Redis) to the silos' Redis: " +
                "the job indexes live there (a silo without Redis keeps its jobs in memory, with nothing to reindex).");
            return 2;
        }

        using var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cancel.Cancel();
        };

        // Unlike the silo's, this connection fails at once when Redis is unreachable: an operator is waiting.
        ConfigurationOptions redis;
        try
        {
            redis = ConfigurationOptions.Parse(cluster.Redis).TrustRedisCa(cluster.RedisTlsCaPath);
        }
        catch (Exception ex) when (ex is OrleansConfigurationException or InvalidOperationException)
        {
            await error.WriteLineAsync($"reindex: bad configuration: {ex.Message}");
            return 2;
        }

        JobIndexReport report;
        try
        {
            await using var index = await StandaloneJobIndex.ConnectAsync(redis, cluster.ServiceId, retention);
            report = await index.VerifyAsync(fix: !verifyOnly, cancel.Token);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            await error.WriteLineAsync($"reindex: Redis at {redis.ToString(includePassword: false)}: {ex.Message}");
            return 2;
        }

        await output.WriteLineAsync(Describe(report, cluster.ServiceId, verifyOnly));
        var json = JsonSerializer.SerializeToNode(report, ReportJson)!.AsObject();
        json.Insert(0, "serviceId", cluster.ServiceId);
        json.Insert(1, "verifyOnly", verifyOnly);
        await output.WriteLineAsync(json.ToJsonString());
        return report.Exact ? 0 : 1;
    }

    private static string Describe(JobIndexReport report, string serviceId, bool verifyOnly) => report switch
    {
        { Mismatches: 0 } => $"Job indexes of service '{serviceId}' are exact: {report}.",
        _ when verifyOnly => $"Job indexes of service '{serviceId}' differ from the stored jobs ({report.Mismatches} mismatches): {report}. " +
            "Run reindex without --verify-only to rebuild them.",
        { RemainingAfterFix: 0 } => $"Job indexes of service '{serviceId}' rebuilt ({report.Mismatches} mismatches fixed): {report}. They are now exact.",
        _ => $"Job indexes of service '{serviceId}': {report.Mismatches} mismatches found and fixed, yet {report.RemainingAfterFix} " +
            $"remain (jobs changed during the run?): {report}. Run reindex again.",
    };

    // Configuration arguments are --Key=value, --Key value or /Key=value; anything else is a mistake.
    private static string? Unexpected(string[] args)
    {
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal) && !arg.StartsWith('/'))
            {
                return arg;
            }

            if (!arg.Contains('=', StringComparison.Ordinal))
            {
                // --Key value: the next argument is its value.
                i++;
            }
        }

        return null;
    }
}
