using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using OrleansTasks.Chaos;
using OrleansTasks.Jobs.Store;
using OrleansTasks.Jobs;
using StackExchange.Redis;

// A chaos run with real processes: redis-server (AOF everysec), N silos (tools/ChaosSilo: the production silo plus
// the chaos_probe job type) and the API; jobs submitted over HTTP; silos SIGKILLed and replaced, Redis restarted
// once; then every job must reach its expected end. The tally comes from Redis itself (each job's stored state and
// history, and the probe's execution log), not from the API. Prints one JSON report; exits 1 when a job was lost,
// failed unexpectedly, ran more often than its stored history explains, or ran less often than it records, or when
// the job indexes (listings, counts) disagree with a full scan of the stored jobs after the kills.
ChaosSettings settings;
try
{
    settings = ChaosSettings.Parse(args);
}
catch (ArgumentException ex)
{
    Console.Error.WriteLine(ex.Message);
    return 2;
}

var root = FindRoot();
if (settings.Build)
{
    foreach (var project in new[] { "tools/ChaosSilo/ChaosSilo.csproj", "Api/Api.csproj" })
    {
        using var build = Process.Start("dotnet", ["build", Path.Combine(root, project), "-c", settings.Configuration, "-nologo", "-v", "quiet"])!;
        await build.WaitForExitAsync();
        if (build.ExitCode != 0)
        {
            return 2;
        }
    }
}

var siloDir = Path.Combine(root, "tools", "ChaosSilo", "bin", settings.Configuration, "net10.0");
var apiDir = Path.Combine(root, "Api", "bin", settings.Configuration, "net10.0");
var work = Directory.CreateTempSubdirectory("orleanstasks-chaos-").FullName;
Log($"logs in {work}");
var clock = Stopwatch.StartNew();

// Redis with the persistence docker-compose uses.
var redisPort = Net.FreePort();
string[] redisArgs = ["--port", redisPort.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--dir", work, "--save", "",
    "--appendonly", "yes", "--appendfsync", "everysec", "--maxmemory-policy", "noeviction", "--daemonize", "no"];
var redis = new Child("redis-server", redisArgs, new Dictionary<string, string>(), Path.Combine(work, "redis.log"));
await Net.WaitUntilAsync(() => Task.FromResult(Net.Accepts(redisPort)), TimeSpan.FromSeconds(20), "redis-server start");
using var admin = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{redisPort},allowAdmin=true,abortConnect=false");

var common = new Dictionary<string, string>
{
    ["ConnectionStrings__Redis"] = $"127.0.0.1:{redisPort}",
    ["Orleans__ClusterId"] = "chaos",
    ["Orleans__ServiceId"] = $"chaos-{Guid.NewGuid():N}",
    ["Orleans__Endpoints__AdvertisedIPAddress"] = "127.0.0.1",
};
var serviceId = common["Orleans__ServiceId"];
var silos = new List<(Child Process, int SiloPort)>();
var siloCount = 0;

async Task StartSiloAsync()
{
    var siloPort = Net.FreePort();
    var gatewayPort = Net.FreePort();
    var environment = new Dictionary<string, string>(common)
    {
        ["Orleans__Endpoints__SiloPort"] = siloPort.ToString(CultureInfo.InvariantCulture),
        ["Orleans__Endpoints__GatewayPort"] = gatewayPort.ToString(CultureInfo.InvariantCulture),
    };
    foreach (var (key, value) in settings.MembershipEnvironment)
    {
        environment[key] = value;
    }

    var child = new Child("dotnet", [Path.Combine(siloDir, "OrleansTasks.ChaosSilo.dll")], environment,
        Path.Combine(work, $"silo-{++siloCount}.log"), siloDir);
    await Net.WaitUntilAsync(() => Task.FromResult(Net.Accepts(gatewayPort) || child.HasExited), TimeSpan.FromSeconds(60), "silo start");
    silos.Add((child, siloPort));
}

for (var i = 0; i < settings.Silos; i++)
{
    await StartSiloAsync();
}

var apiPort = Net.FreePort();
var api = new Child("dotnet", [Path.Combine(apiDir, "OrleansTasks.Api.dll")],
    new Dictionary<string, string>(common) { ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{apiPort}" }, Path.Combine(work, "api.log"), apiDir);
using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{apiPort}"), Timeout = TimeSpan.FromSeconds(40) };
await Net.WaitUntilAsync(async () =>
{
    try
    {
        using var ready = await http.GetAsync(new Uri("/health/ready", UriKind.Relative));
        return ready.IsSuccessStatusCode;
    }
    catch (HttpRequestException)
    {
        return false;
    }
}, TimeSpan.FromSeconds(60), "API ready");
Log($"redis :{redisPort}, {settings.Silos} silos, API :{apiPort} up after {clock.Elapsed.TotalSeconds:F1} s");

// The job mix: instant success, fail once then succeed, always fail, slow.
var plan = Enumerable.Range(0, settings.Jobs).Select(i => (i % 10) switch
{
    < 5 => new Planned($"chaos-{i:D5}", "ok", 0),
    < 7 => new Planned($"chaos-{i:D5}", "fail_once", 0),
    7 => new Planned($"chaos-{i:D5}", "always_fail", 0),
    _ => new Planned($"chaos-{i:D5}", "slow", 1000 + (i * 37 % 2000)),
}).ToList();

var submitErrors = new ConcurrentDictionary<int, int>();
async Task SubmitAsync(Planned job)
{
    var body = JsonSerializer.Serialize(new
    {
        type = ChaosKeys.ProbeType,
        id = job.Id,
        payload = new { mode = job.Mode, milliseconds = job.Milliseconds },
        maxRetries = 3,
        minBackoff = "PT0.5S",
    });
    while (true)
    {
        try
        {
            using var content = new StringContent(body, Encoding.UTF8, "application/json");
            using var response = await http.PostAsync(new Uri("/jobs", UriKind.Relative), content);
            if (response.StatusCode is HttpStatusCode.Accepted or HttpStatusCode.OK)
            {
                return;
            }

            submitErrors.AddOrUpdate((int)response.StatusCode, 1, (_, n) => n + 1);
            if ((int)response.StatusCode < 500)
            {
                throw new InvalidOperationException($"{job.Id}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            submitErrors.AddOrUpdate(0, 1, (_, n) => n + 1);
        }

        // Same id again: idempotent, so a retry after an unclear answer can never make a second job.
        await Task.Delay(250);
    }
}

using var throttle = new SemaphoreSlim(16);
var submissions = Task.WhenAll(plan.Select(async job =>
{
    await throttle.WaitAsync();
    try
    {
        await SubmitAsync(job);
    }
    finally
    {
        throttle.Release();
    }
}));

// Chaos: SIGKILL a random silo every few seconds and start a replacement (new ports, as a new container would
// get); restart Redis once half-way.
var kills = new List<(DateTimeOffset At, int SiloPort)>();
var redisRestarts = 0;
var random = new Random(7);
var chaosStart = Stopwatch.StartNew();
var nextKill = settings.KillEvery;
while (chaosStart.Elapsed < settings.Duration)
{
    if (chaosStart.Elapsed >= nextKill && (settings.MaxKills is null || kills.Count < settings.MaxKills))
    {
        var victim = silos[random.Next(silos.Count)];
        victim.Process.Kill();
        kills.Add((DateTimeOffset.UtcNow, victim.SiloPort));
        silos.Remove(victim);
        Log($"SIGKILL silo :{victim.SiloPort} at {chaosStart.Elapsed.TotalSeconds:F1} s");
        await StartSiloAsync();
        nextKill += settings.KillEvery;
    }

    if (settings.RestartRedis && redisRestarts == 0 && chaosStart.Elapsed >= settings.Duration / 2)
    {
        Log("restarting Redis (SHUTDOWN, AOF on)");
        try
        {
            await admin.GetServers().Single().ExecuteAsync("SHUTDOWN");
        }
        catch (RedisException)
        {
            // The server closes the connection instead of answering.
        }

        await redis.WaitForExitAsync();
        redis.Dispose();
        redis = new Child("redis-server", redisArgs, new Dictionary<string, string>(), Path.Combine(work, "redis.log"));
        await Net.WaitUntilAsync(() => Task.FromResult(Net.Accepts(redisPort)), TimeSpan.FromSeconds(30), "redis-server restart");
        redisRestarts++;
    }

    await Task.Delay(200);
}

await submissions;
Log($"all {plan.Count} jobs acknowledged; chaos over after {chaosStart.Elapsed.TotalSeconds:F1} s; waiting for every job to finish");

// Wait for every job to be terminal, or the deadline.
var final = new ConcurrentDictionary<string, JsonObject>();
var deadline = Stopwatch.StartNew();
while (final.Count < plan.Count && deadline.Elapsed < settings.Deadline)
{
    await Parallel.ForEachAsync(plan.Where(j => !final.ContainsKey(j.Id)), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (job, _) =>
    {
        try
        {
            var snapshot = await http.GetFromJsonAsync<JsonObject>(new Uri($"/jobs/{job.Id}", UriKind.Relative));
            if (snapshot?["status"]?.GetValue<string>() is "succeeded" or "failed")
            {
                final[job.Id] = snapshot;
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            // Try again in the next round.
        }
    });
    if (final.Count < plan.Count)
    {
        await Task.Delay(500);
    }
}

// Count what happened, from Redis's own record: every submitted id's stored state and history, and the executions
// the probe logged. Nothing is clamped: a count that goes the wrong way is reported, not hidden.
var database = admin.GetDatabase();
var stored = new List<(Planned Job, StoredJob State)>();
foreach (var job in plan)
{
    stored.Add((job, await StoredTruth.ReadAsync(database, serviceId, job.Id)));
}

int succeeded = 0, failed = 0, failedExpected = 0, unexpectedFailures = 0, lost = 0, interrupted = 0, handedOff = 0, apiDisagreements = 0;
long executionsTotal = 0, duplicates = 0, unexplained = 0, missingExecutions = 0;
var problems = new List<string>();
var recoveries = new List<double>();
foreach (var (job, state) in stored)
{
    executionsTotal += state.Executions;
    if (state.Status is not { } status || !status.IsTerminal())
    {
        lost++;
        problems.Add($"{job.Id}: stored status {state.Status?.ToString() ?? "(no stored state)"}");
        continue;
    }

    succeeded += status == JobStatus.Succeeded ? 1 : 0;
    failed += status == JobStatus.Failed ? 1 : 0;
    failedExpected += status == JobStatus.Failed && job.Mode == "always_fail" ? 1 : 0;
    if ((status == JobStatus.Failed) != (job.Mode == "always_fail"))
    {
        unexpectedFailures++;
        problems.Add($"{job.Id} ({job.Mode}): stored status {status}");
    }

    if (final.TryGetValue(job.Id, out var answered) && answered["status"]!.GetValue<string>() != status.ToWireName())
    {
        apiDisagreements++;
        problems.Add($"{job.Id}: API said {answered["status"]}, Redis holds {status}");
    }

    interrupted += state.History.Count(a => a.Outcome == AttemptOutcome.Interrupted);
    handedOff += state.History.Count(a => a.Outcome == AttemptOutcome.HandedOff);

    // Every attempt that reported back ran its handler exactly once; an attempt cut by a kill or a stop may or may
    // not have reached the handler. So executions must lie within [reported, reported + cut].
    var extra = state.Executions - state.Reported;
    if (extra < 0)
    {
        missingExecutions -= extra;
        problems.Add($"{job.Id}: {state.Reported} attempts stored as run, {state.Executions} executions logged");
    }
    else
    {
        duplicates += extra;
        if (extra > state.Cut)
        {
            unexplained += extra - state.Cut;
            problems.Add($"{job.Id}: {extra} executions beyond its reported attempts, {state.Cut} cut attempts to explain them");
        }
    }

    // Recovery: from the SIGKILL of the silo that ran an interrupted attempt to the start of the next attempt.
    for (var k = 0; k + 1 < state.History.Count; k++)
    {
        if (state.History[k].Outcome != AttemptOutcome.Interrupted)
        {
            continue;
        }

        var port = int.Parse(state.History[k].Silo.Split(':')[1], CultureInfo.InvariantCulture);
        var kill = kills.Where(x => x.SiloPort == port && x.At >= state.History[k].StartedAt).Select(x => (DateTimeOffset?)x.At).FirstOrDefault();
        if (kill is not null)
        {
            recoveries.Add((state.History[k + 1].StartedAt - kill.Value).TotalSeconds);
        }
    }
}

foreach (var problem in problems.Take(20))
{
    Log(problem);
}

recoveries.Sort();
var report = new JsonObject
{
    ["membership"] = settings.Membership,
    ["silos"] = settings.Silos,
    ["submitted"] = plan.Count,
    ["succeeded"] = succeeded,
    ["failed"] = failed,
    ["failedExpected"] = failedExpected,
    ["lost"] = lost,
    ["unexpectedFailures"] = unexpectedFailures,
    ["executions"] = executionsTotal,
    ["duplicateExecutions"] = duplicates,
    ["unexplainedDuplicates"] = unexplained,
    ["missingExecutions"] = missingExecutions,
    ["apiDisagreements"] = apiDisagreements,
    ["interruptedAttempts"] = interrupted,
    ["handedOffAttempts"] = handedOff,
    ["kills"] = kills.Count,
    ["redisRestarts"] = redisRestarts,
    ["submitRetries"] = new JsonObject(submitErrors.OrderBy(e => e.Key).Select(e =>
        KeyValuePair.Create(e.Key == 0 ? "connection" : e.Key.ToString(CultureInfo.InvariantCulture), (JsonNode?)e.Value))),
    ["recoverySeconds"] = new JsonObject
    {
        ["count"] = recoveries.Count,
        ["p50"] = recoveries.Count == 0 ? null : Math.Round(recoveries[recoveries.Count / 2], 2),
        ["max"] = recoveries.Count == 0 ? null : Math.Round(recoveries[^1], 2),
    },
    ["elapsedSeconds"] = Math.Round(clock.Elapsed.TotalSeconds, 1),
};

api.Dispose();
foreach (var silo in silos)
{
    silo.Process.Dispose();
}

// The indexes against a full scan of the stored job states (what `OrleansTasks.Silo reindex --verify-only` checks),
// with every process stopped so nothing changes under the scan. The chaos silos run the default Jobs:Retention and no
// job type with a retention of its own, so the retention here is the silos'.
JobIndexReport indexes;
await using (var index = await StandaloneJobIndex.ConnectAsync(ConfigurationOptions.Parse($"127.0.0.1:{redisPort}"), serviceId,
    StandaloneJobIndex.RetentionOf(new JobsOptions())))
{
    indexes = await index.VerifyAsync(fix: false, CancellationToken.None);
}

if (indexes.Mismatches > 0)
{
    Log($"job indexes differ from the stored jobs: {indexes}");
}

report["indexMismatches"] = indexes.Mismatches;
report["indexCheck"] = new JsonObject
{
    ["jobs"] = indexes.Jobs,
    ["jobsMisindexed"] = indexes.JobsMisindexed,
    ["staleEntries"] = indexes.StaleEntries,
    ["countDifferences"] = indexes.CountDifferences,
    ["listingDifferences"] = indexes.ListingDifferences,
    ["legacyJobs"] = indexes.LegacyJobs,
};
report.Remove("elapsedSeconds");
report["elapsedSeconds"] = Math.Round(clock.Elapsed.TotalSeconds, 1);

redis.Dispose();
var ok = lost == 0 && unexpectedFailures == 0 && unexplained == 0 && missingExecutions == 0 && apiDisagreements == 0 && indexes.Mismatches == 0;
Console.WriteLine(report.ToJsonString());
if (ok)
{
    Directory.Delete(work, recursive: true);
}
else
{
    Log($"FAILED; logs kept in {work}");
}

return ok ? 0 : 1;

static void Log(string message) => Console.Error.WriteLine($"[chaos] {message}");

static string FindRoot()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
    {
        if (File.Exists(Path.Combine(dir.FullName, "OrleansTasks.sln")))
        {
            return dir.FullName;
        }
    }

    throw new InvalidOperationException("Run the chaos tool from inside the OrleansTasks repository.");
}

internal sealed record Planned(string Id, string Mode, int Milliseconds);
