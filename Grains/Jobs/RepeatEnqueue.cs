using System.Text.Json.Nodes;

namespace OrleansTasks.Jobs;

/// <summary>Whether an enqueue under a stored job's id asks for the same job (the fact <see cref="JobFacts.SameJob"/>).</summary>
public static class RepeatEnqueue
{
    /// <summary>Same type, and payloads equal in their canonical forms.</summary>
    public static bool IsSameJob(JobTypeRegistry registry, JobState state, EnqueueRequest request)
    {
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(request);
        if (!string.Equals(request.Type, state.Type, StringComparison.Ordinal))
        {
            return false;
        }

        // Compare canonical forms, so {"Email": ...} and { "email" : ... } are the same payload. A silo that does not
        // know the type (a rolling deploy) compares the JSON as sent.
        var canonical = registry.TryGet(state.Type, out var definition)
            ? PayloadValidator.Validate(definition.PayloadType, request.PayloadJson ?? string.Empty).CanonicalJson
            : request.PayloadJson;
        return canonical is not null && JsonNode.DeepEquals(ParseOrNull(canonical), ParseOrNull(state.PayloadJson));
    }

    private static JsonNode? ParseOrNull(string json)
    {
        try
        {
            return JsonNode.Parse(json);
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }
}
