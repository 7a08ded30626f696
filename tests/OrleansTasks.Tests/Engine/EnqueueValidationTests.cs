using OrleansTasks.Jobs;
using OrleansTasks.Tests.Infrastructure;

namespace OrleansTasks.Tests.Engine;

[Collection(ClusterCollection.Name)]
public sealed class EnqueueValidationTests(ClusterFixture fixture)
{
    private JobClient Jobs => fixture.Jobs;

    public static TheoryData<string, string, JobOptions, string> BadRequests => new()
    {
        { "no_such_job", """{"value":"x"}""", JobOptions.None, "type" },
        { "test_echo", """{"value": 5}""", JobOptions.None, "payload.value" },
        { "test_echo", """{}""", JobOptions.None, "payload.value" },
        { "test_echo", """{"value":"x","other":1}""", JobOptions.None, "payload.other" },
        { "test_echo", """not json""", JobOptions.None, "payload" },
        { "send_welcome_email", """{"email":"nope"}""", JobOptions.None, "payload.email" },
        { "test_echo", """{"value":"x"}""", new JobOptions { MaxRetries = -1 }, "maxRetries" },
        { "test_echo", """{"value":"x"}""", new JobOptions { Timeout = TimeSpan.Zero }, "timeout" },
        { "test_echo", """{"value":"x"}""", new JobOptions { MinBackoff = TimeSpan.FromHours(2), MaxBackoff = TimeSpan.FromHours(1) }, "maxBackoff" },
        { "test_echo", """{"value":"x"}""", new JobOptions { RunAt = DateTimeOffset.UtcNow.AddHours(-1) }, "runAt" },
        { "test_echo", """{"value":"x"}""", new JobOptions { Delay = TimeSpan.FromSeconds(1), RunAt = DateTimeOffset.UtcNow }, "delay" },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task InvalidRequestIsRejectedNamingTheFieldAndPersistsNothing(string type, string payload, JobOptions options, string field)
    {
        var id = $"bad-{Guid.NewGuid():N}";
        var result = await Jobs.EnqueueAsync(type, payload, options, id);

        Assert.Equal(EnqueueOutcome.Invalid, result.Outcome);
        Assert.Contains(field, result.Errors!.Keys);
        Assert.Null(result.Snapshot);
        Assert.Null(await Jobs.GetAsync(id));
    }

    [Fact]
    public async Task UnknownTypeAnswerListsTheKnownTypes()
    {
        var result = await Jobs.EnqueueAsync("send_welcome_mail", "{}");
        var message = Assert.Single(result.Errors!["type"]);
        Assert.Contains("send_welcome_email", message, StringComparison.Ordinal);
        Assert.Contains("generate_report", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task InvalidIdIsRefusedByTheClientAndByTheGrain()
    {
        await Assert.ThrowsAsync<ArgumentException>(() => Jobs.EnqueueAsync(new Echo("x"), id: "has space"));
        var direct = await fixture.Cluster.Client.GetGrain<IJobGrain>("has space").EnqueueAsync(new EnqueueRequest("test_echo", """{"value":"x"}""", JobOptions.None));
        Assert.Equal(EnqueueOutcome.Invalid, direct.Outcome);
        Assert.Contains("id", direct.Errors!.Keys);
    }

    [Fact]
    public async Task JobTypesAreListedWithTheirDefaults()
    {
        var types = await Jobs.GetJobTypesAsync();
        var email = Assert.Single(types, t => t.Name == "send_welcome_email");
        Assert.Equal(3, email.Defaults.MaxRetries);
        Assert.Equal(TimeSpan.FromSeconds(1), email.Defaults.MinBackoff);
        var report = Assert.Single(types, t => t.Name == "generate_report");
        Assert.Equal(JobPolicy.Default, report.Defaults);
        Assert.Contains(types, t => t.Name == "process_image");
    }
}
