using OrleansTasks.Examples;
using OrleansTasks.Jobs;
using OrleansTasks.Tests.Infrastructure;

namespace OrleansTasks.Tests.Engine;

[Collection(ClusterCollection.Name)]
public sealed class LifecycleLoggingTests(ClusterFixture fixture)
{
    [Fact]
    public async Task LifecycleIsLoggedStructurallyWithoutPayloads()
    {
        var ok = await fixture.Jobs.EnqueueAsync(new SendWelcomeEmail("secret-person@example.com"));
        var bad = await fixture.Jobs.EnqueueAsync(new SendWelcomeEmail(ExampleJobs.FailingEmail),
            new JobOptions { MaxRetries = 1, MinBackoff = TimeSpan.FromMilliseconds(50) });
        await fixture.WaitForTerminalAsync(ok.Snapshot!.Id);
        await fixture.WaitForTerminalAsync(bad.Snapshot!.Id);

        // A terminal outcome is logged once it is stored, which may be just after a query first shows it.
        var entries = fixture.Logs.Entries.ToList();
        string[] EventsOf(string id) => [.. entries
            .Where(e => e.Properties.TryGetValue("JobId", out var v) && Equals(v, id))
            .Select(e => e.EventId.Name ?? e.EventId.Id.ToString(System.Globalization.CultureInfo.InvariantCulture))];
        await Poll.UntilAsync(() =>
        {
            entries = fixture.Logs.Entries.ToList();
            return Task.FromResult(EventsOf(bad.Snapshot.Id).Length + EventsOf(ok.Snapshot.Id).Length);
        }, n => n >= 8, what: "both jobs' terminal log lines");

        Assert.Equal(["LogEnqueued", "LogStarted", "LogSucceeded"], EventsOf(ok.Snapshot.Id));
        Assert.Equal(["LogEnqueued", "LogStarted", "LogAttemptFailed", "LogStarted", "LogFailed"], EventsOf(bad.Snapshot.Id));

        var attemptFailed = entries.First(e => e.EventId.Name == "LogAttemptFailed" && Equals(e.Properties["JobId"], bad.Snapshot.Id));
        Assert.IsType<DateTimeOffset>(attemptFailed.Properties["NextAttemptAt"]);
        Assert.Equal("send_welcome_email", attemptFailed.Properties["JobType"]);

        Assert.DoesNotContain(entries, e => e.Message.Contains("secret-person", StringComparison.Ordinal));
        Assert.DoesNotContain(entries, e => e.Message.Contains(ExampleJobs.FailingEmail, StringComparison.Ordinal));
    }
}
