using Orleans.Persistence.Redis;
using Orleans.Storage;
using OrleansTasks.Infrastructure;
using OrleansTasks.Jobs;
using StackExchange.Redis;

namespace OrleansTasks.Tests.Unit;

/// <summary>What may cross from a silo to a client: only exception types the client (the API) can load.</summary>
public sealed class GrainBoundaryTests
{
    public static TheoryData<Exception> ClientLoadable => new()
    {
        new ArgumentException("bad"),
        new InvalidOperationException("no", new TimeoutException()),
        new TimeoutException(),
        new OrleansException("activation failed", new JobStorageUnavailableException()),
        new InconsistentStateException("etag"),
        new JobStorageUnavailableException(),
        new AggregateException(new ArgumentException("a"), new KeyNotFoundException()),
    };

    public static TheoryData<Exception, Type> SiloOnly => new()
    {
        { new RedisStorageException("Failed to read grain state ... 127.0.0.1:6379"), typeof(JobStorageUnavailableException) },
        { new OrleansException("Error from storage provider", new RedisStorageException("read failed")), typeof(JobStorageUnavailableException) },
        { new RedisTimeoutException("Timeout awaiting response", CommandStatus.Sent), typeof(JobStorageUnavailableException) },
        { new RedisConnectionException(ConnectionFailureType.UnableToConnect, "No connection"), typeof(JobStorageUnavailableException) },
        { new InvalidOperationException("wrapped", new RedisStorageException("write failed")), typeof(JobStorageUnavailableException) },
        { new AggregateException(new ArgumentException("a"), new RedisStorageException("b")), typeof(JobStorageUnavailableException) },
        { new SiloOnlyException(), typeof(JobEngineException) },
        { new InvalidOperationException("outer", new SiloOnlyException()), typeof(JobEngineException) },
    };

    [Theory]
    [MemberData(nameof(ClientLoadable))]
    public void ExceptionsMadeOfTypesTheClientHasCrossUnchanged(Exception exception) =>
        Assert.Same(exception, GrainBoundary.ForClient(exception));

    [Theory]
    [MemberData(nameof(SiloOnly))]
    public void AnyTypeOnlySilosHaveIsReplacedByAContractTypeWithoutInternals(Exception exception, Type expected)
    {
        var translated = GrainBoundary.ForClient(exception);

        Assert.IsType(expected, translated);
        Assert.Null(translated.InnerException);
        Assert.DoesNotContain("Redis", translated.Message, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("6379", translated.Message, StringComparison.Ordinal);
    }

    private sealed class SiloOnlyException : Exception
    {
        public SiloOnlyException()
            : base("internal detail")
        {
        }
    }
}
