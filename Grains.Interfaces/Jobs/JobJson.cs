using System.Text.Json;
using System.Text.Json.Serialization;

namespace OrleansTasks.Jobs;

/// <summary>The one JSON convention for payloads and results, on clients and silos alike.</summary>
public static class JobJson
{
    /// <summary>
    /// camelCase web defaults, with nullable annotations and required constructor parameters respected so a
    /// payload that leaves out a field or sends null where none is allowed is rejected at enqueue, not in the handler.
    /// </summary>
    public static JsonSerializerOptions Options { get; } = Create();

    private static JsonSerializerOptions Create()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            RespectNullableAnnotations = true,
            RespectRequiredConstructorParameters = true,
            UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        };

        // Frozen with the reflection resolver, so metadata lookups (GetTypeInfo) work and nobody mutates the shared instance.
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }

    /// <summary>Serializes a payload or result the way every job stores it.</summary>
    public static string Serialize<T>(T value) => JsonSerializer.Serialize(value, Options);
}
