using System.Diagnostics;

namespace OrleansTasks.Tests.Infrastructure;

/// <summary>Waits for a condition with a deadline: the only way tests here synchronise with background work.</summary>
public static class Poll
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Re-evaluates <paramref name="probe"/> until <paramref name="done"/> holds; fails with the last value at the deadline.</summary>
    public static async Task<T> UntilAsync<T>(Func<Task<T>> probe, Func<T, bool> done, TimeSpan? timeout = null, string? what = null)
    {
        var deadline = Stopwatch.StartNew();
        var limit = timeout ?? DefaultTimeout;
        T last;
        while (true)
        {
            last = await probe();
            if (done(last))
            {
                return last;
            }

            if (deadline.Elapsed > limit)
            {
                throw new TimeoutException($"Condition not met within {limit}: {what ?? "condition"}. Last value: {Describe(last)}");
            }

            await Task.Delay(20);
        }
    }

    /// <summary>Polls a job's snapshot until it exists and meets <paramref name="condition"/>.</summary>
    public static async Task<Jobs.JobSnapshot> UntilJobAsync(this Jobs.JobClient jobs, string id, Func<Jobs.JobSnapshot, bool> condition, TimeSpan? timeout = null) =>
        (await UntilAsync(() => jobs.GetAsync(id), s => s is not null && condition(s), timeout, $"job {id}"))!;

    private static string Describe(Jobs.JobSnapshot s) =>
        $"{s.Id} {s.Status} attempts={s.Attempts} lastError={s.LastError} history=[{string.Join(", ", s.History.Select(a => $"{a.Outcome}@{a.Silo}"))}]";

    private static string Describe<T>(T value) => value switch
    {
        null => "null",
        Jobs.JobSnapshot s => Describe(s),
        IEnumerable<Jobs.JobSnapshot?> many => string.Join("; ", many.Select(s => s is null ? "null" : Describe(s))),
        _ => value.ToString() ?? string.Empty,
    };

    /// <summary>Every job id starting with <paramref name="prefix"/>, walking the listing.</summary>
    public static async Task<List<string>> ListAllIdsAsync(this Jobs.JobClient jobs, string prefix)
    {
        ArgumentNullException.ThrowIfNull(jobs);
        var ids = new List<string>();
        await foreach (var job in jobs.ListAllAsync(new Jobs.JobFilter { IdPrefix = prefix }))
        {
            ids.Add(job.Id);
        }

        return ids;
    }
}
