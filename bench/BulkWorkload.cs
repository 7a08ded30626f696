using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using OrleansTasks.Jobs;

namespace OrleansTasks.Bench;

/// <summary>
/// Issue 9's bulk bar: one <c>POST /jobs/bulk</c> over 100,000 matching jobs, answered at once and carried out in the
/// background without holding them all in memory. N jobs wait a day ahead (scheduled), a dry run counts them, a
/// cancel over the same filter runs to completion while the process's managed heap and working set are sampled, and
/// the counts afterwards must say N cancelled and none scheduled.
/// </summary>
public static class BulkWorkload
{
    public static async Task<Dictionary<string, double>> RunAsync(string redis, int count)
    {
        await using var sut = await OrleansTasksSystem.StartAsync(redis);
        var jobs = sut.Services.GetRequiredService<JobClient>();
        var clock = Stopwatch.StartNew();
        await Workloads.Producers(count, 16, _ => jobs.EnqueueAsync(new BenchNoop(0), new JobOptions { Delay = TimeSpan.FromDays(1) }));
        var enqueueSeconds = clock.Elapsed.TotalSeconds;

        using var http = new HttpClient { BaseAddress = sut.BaseAddress, Timeout = TimeSpan.FromSeconds(100) };
        const string Filter = """{"status":["scheduled"],"type":"bench_noop"}""";
        clock.Restart();
        using var dry = await http.PostAsync(new Uri("/jobs/bulk", UriKind.Relative), Json($$"""{"action":"cancel","filter":{{Filter}},"dryRun":true}"""));
        var dryRunMs = clock.Elapsed.TotalMilliseconds;
        var matched = (await dry.EnsureSuccessStatusCode().Content.ReadFromJsonAsync<JsonObject>())!["matched"]!.GetValue<long>();

        GC.Collect();
        var heapBefore = GC.GetTotalMemory(forceFullCollection: true);
        using var process = Process.GetCurrentProcess();
        process.Refresh();
        var workingSetBefore = process.WorkingSet64;

        clock.Restart();
        using var started = await http.PostAsync(new Uri("/jobs/bulk", UriKind.Relative), Json($$"""{"action":"cancel","filter":{{Filter}}}"""));
        var acceptMs = clock.Elapsed.TotalMilliseconds;
        if ((int)started.StatusCode != 202 || started.Headers.Location is not { } location)
        {
            throw new InvalidOperationException($"POST /jobs/bulk answered {(int)started.StatusCode}, not 202 with a Location.");
        }

        long peakHeap = heapBefore, peakWorkingSet = workingSetBefore;
        JsonObject operation;
        while (true)
        {
            operation = (await http.GetFromJsonAsync<JsonObject>(location))!;
            peakHeap = Math.Max(peakHeap, GC.GetTotalMemory(forceFullCollection: false));
            process.Refresh();
            peakWorkingSet = Math.Max(peakWorkingSet, process.WorkingSet64);
            if (operation["status"]!.GetValue<string>() == "completed")
            {
                break;
            }

            if (clock.Elapsed > TimeSpan.FromMinutes(30))
            {
                throw new TimeoutException($"The bulk operation did not complete in 30 minutes: {operation.ToJsonString()}");
            }

            await Task.Delay(TimeSpan.FromSeconds(1));
        }

        var seconds = clock.Elapsed.TotalSeconds;
        var counts = (await http.GetFromJsonAsync<JsonObject>(new Uri("/jobs/counts?type=bench_noop", UriKind.Relative)))!;
        var (done, failed) = (operation["done"]!.GetValue<long>(), operation["failed"]!.GetValue<long>());
        var (cancelled, scheduled) = (counts["cancelled"]!.GetValue<long>(), counts["scheduled"]!.GetValue<long>());
        var passed = matched == count && done == count && failed == 0 && cancelled == count && scheduled == 0;
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"[bench] bulk: {count} scheduled jobs enqueued in {enqueueSeconds:F0} s; dry run matched {matched} in {dryRunMs:F0} ms; " +
            $"cancel accepted (202) in {acceptMs:F0} ms and completed in {seconds:F0} s ({done / seconds:F0} jobs/s): done {done}, failed {failed}; " +
            $"counts cancelled {cancelled}, scheduled {scheduled}; managed heap {heapBefore / 1e6:F0} MB before, peak {peakHeap / 1e6:F0} MB; " +
            $"working set {workingSetBefore / 1e6:F0} MB before, peak {peakWorkingSet / 1e6:F0} MB — {(passed ? "PASS" : "FAIL")}"));
        return new()
        {
            ["matched"] = matched,
            ["done"] = done,
            ["failed"] = failed,
            ["dryRunMs"] = dryRunMs,
            ["acceptMs"] = acceptMs,
            ["seconds"] = seconds,
            ["jobsPerSecond"] = done / seconds,
            ["heapBeforeMB"] = heapBefore / 1e6,
            ["peakHeapMB"] = peakHeap / 1e6,
            ["workingSetBeforeMB"] = workingSetBefore / 1e6,
            ["peakWorkingSetMB"] = peakWorkingSet / 1e6,
            ["passed"] = passed ? 1 : 0,
        };
    }

    private static StringContent Json(string body) => new(body, System.Text.Encoding.UTF8, "application/json");
}
