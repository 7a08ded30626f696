using OrleansTasks.Jobs;

namespace OrleansTasks.Tests.Unit;

public sealed class BackoffTests
{
    private static readonly JobPolicy Policy = new(20, TimeSpan.FromSeconds(15), TimeSpan.FromDays(7), TimeSpan.FromMinutes(10));

    [Theory]
    [InlineData(1, 15)]
    [InlineData(2, 30)]
    [InlineData(3, 60)]
    [InlineData(10, 15 * 512)]
    public void BaseDelayDoublesFromTheMinimum(int retry, int expectedSeconds) =>
        Assert.Equal(TimeSpan.FromSeconds(expectedSeconds), Backoff.Base(retry, Policy.MinBackoff, Policy.MaxBackoff));

    [Theory]
    [InlineData(17)]
    [InlineData(20)]
    [InlineData(1000)]
    public void BaseDelayIsCappedAtTheMaximumWithoutOverflow(int retry) =>
        Assert.Equal(TimeSpan.FromDays(7), Backoff.Base(retry, Policy.MinBackoff, Policy.MaxBackoff));

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(25)]
    public void JitteredDelayLiesBetweenBaseAndOneAndAHalfTimesBase(int retry)
    {
        var b = Backoff.Base(retry, Policy.MinBackoff, Policy.MaxBackoff);
        Assert.Equal(b, Backoff.Delay(retry, Policy, 0));
        Assert.Equal(b * 1.5, Backoff.Delay(retry, Policy, 1));
        var random = new Random(42);
        for (var i = 0; i < 1000; i++)
        {
            var delay = Backoff.Delay(retry, Policy, random.NextDouble());
            Assert.InRange(delay, b, b * 1.5);
        }
    }

    [Fact]
    public void RetryNumbersStartAtOne() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => Backoff.Base(0, Policy.MinBackoff, Policy.MaxBackoff));
}
