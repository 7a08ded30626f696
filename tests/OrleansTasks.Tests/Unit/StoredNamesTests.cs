using System.Reflection;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;
using OrleansTasks.Jobs;
using OrleansTasks.Tests.Infrastructure;

namespace OrleansTasks.Tests.Unit;

/// <summary>Names that stored jobs and reminders depend on: grain type names and stored property names.</summary>
[Collection(ClusterCollection.Name)]
public sealed class StoredNamesTests(ClusterFixture fixture)
{
    // A job as the first release stored it (the `data` field of `{ServiceId}/state/job/{id}/job`).
    private const string StoredByTheFirstRelease = """
        {"Type":"send_welcome_email","PayloadJson":"{\u0022email\u0022:\u0022a@example.com\u0022}","Policy":{"MaxRetries":3,"MinBackoff":"00:00:15","MaxBackoff":"7.00:00:00","Timeout":"00:10:00"},"Status":4,"Attempts":2,"CreatedAt":"2026-11-01T08:00:00+00:00","ScheduledFor":"2026-11-01T08:00:00+00:00","StartedAt":"2026-11-01T08:00:01+00:00","FinishedAt":"2026-11-01T08:00:20+00:00","NextAttemptAt":null,"LastError":{"Type":"SmtpException","Message":"refused"},"ResultJson":"{\u0022sent\u0022:true}","History":[{"Number":1,"StartedAt":"2026-11-01T08:00:01+00:00","FinishedAt":"2026-11-01T08:00:02+00:00","Outcome":2,"Error":{"Type":"SmtpException","Message":"refused"},"Silo":"S127.0.0.1:11111:1"},{"Number":2,"StartedAt":"2026-11-01T08:00:19+00:00","FinishedAt":"2026-11-01T08:00:20+00:00","Outcome":1,"Error":null,"Silo":"S127.0.0.1:11111:1"}]}
        """;

    [Fact]
    public void EveryGrainPinsItsTypeNameAndTheJobGrainKeepsTheNameStoredJobsUse()
    {
        var grains = typeof(JobGrain).Assembly.GetTypes().Where(t => t.IsClass && !t.IsAbstract && typeof(Grain).IsAssignableFrom(t)).ToList();
        Assert.NotEmpty(grains);
        var pinned = grains.ToDictionary(t => t.Name, t => t.GetCustomAttribute<GrainTypeAttribute>() is null ? null : PinnedName(t));
        Assert.All(pinned, p => Assert.True(p.Value is not null, $"{p.Key} has no [GrainType]"));

        // Orleans' default names for these classes, which the stored state keys and reminder rows already hold.
        Assert.Equal("job", pinned[nameof(JobGrain)]);
        Assert.Equal("jobtypes", pinned[nameof(JobTypesGrain)]);
    }

    [Fact]
    public void AJobStoredByTheFirstReleaseLoadsWithEveryField()
    {
        var serializer = ((Orleans.TestingHost.InProcessSiloHandle)fixture.Cluster.Silos[0]).ServiceProvider.GetRequiredService<IGrainStorageSerializer>();
        var state = serializer.Deserialize<JobState>(BinaryData.FromString(StoredByTheFirstRelease))!;

        var t0 = new DateTimeOffset(2026, 11, 1, 8, 0, 0, TimeSpan.Zero);
        Assert.Equal("send_welcome_email", state.Type);
        Assert.Equal("""{"email":"a@example.com"}""", state.PayloadJson);
        Assert.Equal(new JobPolicy(3, TimeSpan.FromSeconds(15), TimeSpan.FromDays(7), TimeSpan.FromMinutes(10)), state.Policy);
        Assert.Equal(JobStatus.Succeeded, state.Status);
        Assert.Equal(2, state.Attempts);
        Assert.Equal(t0, state.CreatedAt);
        Assert.Equal(t0, state.ScheduledFor);
        Assert.Equal(t0.AddSeconds(1), state.StartedAt);
        Assert.Equal(t0.AddSeconds(20), state.FinishedAt);
        Assert.Null(state.NextAttemptAt);
        Assert.Equal(new JobError("SmtpException", "refused"), state.LastError);
        Assert.Equal("""{"sent":true}""", state.ResultJson);
        Assert.Equal(
            [new JobAttempt(1, t0.AddSeconds(1), t0.AddSeconds(2), AttemptOutcome.Failed, new JobError("SmtpException", "refused"), "S127.0.0.1:11111:1"),
             new JobAttempt(2, t0.AddSeconds(19), t0.AddSeconds(20), AttemptOutcome.Succeeded, null, "S127.0.0.1:11111:1")],
            state.History);

        // And what this release writes reads back the same.
        Assert.Equivalent(state, serializer.Deserialize<JobState>(serializer.Serialize(state)), strict: true);
    }

    private static string PinnedName(Type grain) =>
        (string)grain.GetCustomAttributesData().Single(a => a.AttributeType == typeof(GrainTypeAttribute)).ConstructorArguments[0].Value!;
}
