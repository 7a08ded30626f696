using System.Reflection;
using Orleans.Serialization;
using OrleansTasks.Jobs;

namespace OrleansTasks.Infrastructure;

/// <summary>
/// Which exceptions may cross from a silo to a client. A client (the API) has only Grains.Interfaces, the BCL and
/// Orleans' core: a reply carrying any other exception type, even as an inner exception, cannot be read there
/// (TypeLoadException in the client's connection) and reaches the caller as an unexplained failure.
/// </summary>
public static class GrainBoundary
{
    private static readonly HashSet<Assembly> ClientAssemblies =
    [
        typeof(object).Assembly,                        // System.Private.CoreLib
        typeof(IJobGrain).Assembly,                     // Grains.Interfaces
        typeof(OrleansException).Assembly,              // Orleans.Core.Abstractions
        typeof(IClusterClient).Assembly,                // Orleans.Core
        typeof(Serializer).Assembly,                    // Orleans.Serialization
        typeof(GenerateSerializerAttribute).Assembly,   // Orleans.Serialization.Abstractions
    ];

    // Assemblies whose failures mean "storage did not answer": the Redis client and Orleans' storage, reminder and
    // clustering providers (whatever backend they use).
    private static readonly string[] StorageAssemblyPrefixes =
        ["StackExchange.Redis", "Orleans.Persistence.", "Orleans.Reminders", "Orleans.Clustering."];

    /// <summary>
    /// <paramref name="exception"/> when every exception in it is a type clients can load, else a
    /// <see cref="JobStorageUnavailableException"/> (a storage failure) or <see cref="JobEngineException"/> (anything
    /// else), with no inner exception and no silo internals in the message.
    /// </summary>
    public static Exception ForClient(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        var chain = Flatten(exception).ToList();
        if (chain.TrueForAll(e => ClientCanLoad(e.GetType())))
        {
            return exception;
        }

        return chain.Exists(IsStorageFailure) ? new JobStorageUnavailableException() : new JobEngineException();
    }

    /// <summary>True when the exception says storage failed or did not answer (as opposed to a fault in our code).</summary>
    public static bool IsStorageFailure(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        if (exception is JobStorageUnavailableException or TimeoutException)
        {
            return true;
        }

        var assembly = exception.GetType().Assembly.GetName().Name ?? string.Empty;
        return Array.Exists(StorageAssemblyPrefixes, prefix => assembly.StartsWith(prefix, StringComparison.Ordinal));
    }

    private static bool ClientCanLoad(Type type) =>
        ClientAssemblies.Contains(type.Assembly)
        || type.Assembly.GetName().Name?.StartsWith("System.", StringComparison.Ordinal) == true;

    private static IEnumerable<Exception> Flatten(Exception exception)
    {
        yield return exception;
        IEnumerable<Exception> inner = exception switch
        {
            AggregateException aggregate => aggregate.InnerExceptions,
            { InnerException: { } one } => [one],
            _ => [],
        };
        foreach (var child in inner)
        {
            foreach (var e in Flatten(child))
            {
                yield return e;
            }
        }
    }
}
