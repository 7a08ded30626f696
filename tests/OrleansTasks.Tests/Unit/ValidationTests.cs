using OrleansTasks.Examples;
using OrleansTasks.Jobs;
using OrleansTasks.Silo;

namespace OrleansTasks.Tests.Unit;

public sealed class ValidationTests
{
    private static readonly DateTimeOffset Now = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void DefaultPolicyFollowsDramatiq()
    {
        Assert.Equal(20, JobPolicy.Default.MaxRetries);
        Assert.Equal(TimeSpan.FromSeconds(15), JobPolicy.Default.MinBackoff);
        Assert.Equal(TimeSpan.FromDays(7), JobPolicy.Default.MaxBackoff);
        Assert.Equal(TimeSpan.FromMinutes(10), JobPolicy.Default.Timeout);
        Assert.Empty(JobPolicy.Default.Validate());
    }

    [Fact]
    public void OverridesReplaceOnlyWhatTheyName()
    {
        var policy = JobPolicy.Default.With(new JobOptions { MaxRetries = 2, Timeout = TimeSpan.FromSeconds(3) });
        Assert.Equal(new JobPolicy(2, TimeSpan.FromSeconds(15), TimeSpan.FromDays(7), TimeSpan.FromSeconds(3)), policy);
    }

    [Theory]
    [InlineData(-1, 15, 60, 60, "maxRetries")]
    [InlineData(1001, 15, 60, 60, "maxRetries")]
    [InlineData(3, 0, 60, 60, "minBackoff")]
    [InlineData(3, 120, 60, 60, "maxBackoff")]
    [InlineData(3, 15, 60, 0, "timeout")]
    [InlineData(3, 15, 60 * 60 * 24 * 400, 60, "maxBackoff")]
    public void AbsurdPoliciesAreRejectedNamingTheField(int maxRetries, int minSeconds, int maxSeconds, int timeoutSeconds, string field)
    {
        var policy = new JobPolicy(maxRetries, TimeSpan.FromSeconds(minSeconds), TimeSpan.FromSeconds(maxSeconds), TimeSpan.FromSeconds(timeoutSeconds));
        Assert.Contains(field, policy.Validate().Keys);
    }

    [Fact]
    public void ScheduleRejectsPastRunAtNegativeDelayAndBoth()
    {
        Assert.Contains("runAt", new JobOptions { RunAt = Now.AddMinutes(-5) }.ValidateSchedule(Now).Keys);
        Assert.Contains("delay", new JobOptions { Delay = TimeSpan.FromSeconds(-1) }.ValidateSchedule(Now).Keys);
        Assert.Contains("delay", new JobOptions { Delay = TimeSpan.FromSeconds(1), RunAt = Now }.ValidateSchedule(Now).Keys);
        Assert.Empty(new JobOptions { RunAt = Now.AddSeconds(-5) }.ValidateSchedule(Now));
        Assert.Empty(new JobOptions { Delay = TimeSpan.FromMinutes(5) }.ValidateSchedule(Now));
    }

    [Theory]
    [InlineData("order-42", true)]
    [InlineData("a.b_c:d-E9", true)]
    [InlineData("", false)]
    [InlineData("has space", false)]
    [InlineData("slash/id", false)]
    [InlineData("ünïcode", false)]
    public void JobIdsAllowOnlyTheDocumentedCharacters(string id, bool valid) =>
        Assert.Equal(valid, JobId.Validate(id) is null);

    [Fact]
    public void JobIdsHaveALengthLimitAndGeneratedOnesSortByTime()
    {
        Assert.Null(JobId.Validate(new string('a', 128)));
        Assert.NotNull(JobId.Validate(new string('a', 129)));
        var first = JobId.New(Now);
        var second = JobId.New(Now.AddMilliseconds(1));
        Assert.Null(JobId.Validate(JobId.New()));
        Assert.Null(JobId.Validate(first));
        Assert.True(string.CompareOrdinal(first, second) < 0, $"{first} should sort before {second}");
    }

    [Fact]
    public void PayloadValidationListsEveryOffendingField()
    {
        var (canonical, errors) = PayloadValidator.Validate(typeof(ProcessImage), """{"imageUrl": 5, "userId": "x", "extra": true}""");
        Assert.Null(canonical);
        Assert.Equal(["payload.extra", "payload.imageUrl", "payload.userId"], errors.Keys.Order());
    }

    [Theory]
    [InlineData("""{}""", "payload.email")]
    [InlineData("""{"email": null}""", "payload.email")]
    [InlineData("""{"email": "not-an-address"}""", "payload.email")]
    [InlineData("""[1, 2]""", "payload")]
    [InlineData("""{"email": """, "payload")]
    public void BadWelcomeEmailPayloadsAreRejected(string json, string field)
    {
        var (canonical, errors) = PayloadValidator.Validate(typeof(SendWelcomeEmail), json);
        Assert.Null(canonical);
        Assert.Contains(field, errors.Keys);
    }

    [Fact]
    public void ValidPayloadIsCanonicalised()
    {
        var (canonical, errors) = PayloadValidator.Validate(typeof(SendWelcomeEmail), """{ "Email" : "a@example.com" }""");
        Assert.Empty(errors);
        Assert.Equal("""{"email":"a@example.com"}""", canonical);
    }

    [Theory]
    [InlineData("ftp://example.com/a.jpg")]
    [InlineData("file:///etc/passwd")]
    [InlineData("not a url")]
    public void ImageUrlsMustBeHttp(string url)
    {
        var (_, errors) = PayloadValidator.Validate(typeof(ProcessImage), $$"""{"imageUrl": "{{url}}", "userId": 1}""");
        Assert.Contains("payload.imageUrl", errors.Keys);
    }

    [Fact]
    public void RedisSettingsThatCanLoseJobsAreReported()
    {
        Assert.Empty(RedisDurabilityCheck.Assess("noeviction", "yes", ""));
        Assert.Empty(RedisDurabilityCheck.Assess("noeviction", "no", "3600 1"));
        Assert.Single(RedisDurabilityCheck.Assess("allkeys-lru", "yes", ""));
        Assert.Single(RedisDurabilityCheck.Assess("noeviction", "no", ""));
        Assert.Equal(2, RedisDurabilityCheck.Assess("volatile-lru", "no", "").Count);
    }
}
