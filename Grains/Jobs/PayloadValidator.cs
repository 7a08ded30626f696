using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;

namespace OrleansTasks.Jobs;

/// <summary>
/// Checks a JSON payload against a job type's payload record and reports every offending field at once,
/// which a plain deserialize (it stops at the first error) cannot.
/// </summary>
public static class PayloadValidator
{
    /// <summary>The payload re-serialized in the canonical form, or the field errors (keys like <c>payload.email</c>).</summary>
    public static (string? CanonicalJson, Dictionary<string, string[]> Errors) Validate(Type payloadType, string payloadJson)
    {
        ArgumentNullException.ThrowIfNull(payloadType);
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);

        // Fast path, taken by nearly every enqueue: a payload that deserializes (so it is an object of the right
        // shape) only needs its annotations checked. The field-by-field analysis below is for the failures.
        object? parsed = null;
        try
        {
            parsed = JsonSerializer.Deserialize(payloadJson, payloadType, JobJson.Options);
        }
        catch (JsonException)
        {
            // Analysed below.
        }

        if (parsed is not null)
        {
            return CheckAnnotations(parsed, errors) ? (JsonSerializer.Serialize(parsed, payloadType, JobJson.Options), errors) : (null, errors);
        }

        JsonNode? node;
        try
        {
            node = JsonNode.Parse(payloadJson);
        }
        catch (JsonException ex)
        {
            errors["payload"] = [$"is not valid JSON: {ex.Message}"];
            return (null, errors);
        }

        if (node is not JsonObject body)
        {
            errors["payload"] = ["must be a JSON object."];
            return (null, errors);
        }

        var info = JobJson.Options.GetTypeInfo(payloadType);
        var properties = info.Properties.ToDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in body)
        {
            if (!properties.TryGetValue(name, out var property))
            {
                errors[$"payload.{name}"] = [$"is not a field of {info.Type.Name}; known fields: {string.Join(", ", properties.Keys)}."];
                continue;
            }

            if (CheckValue(property, value) is { } problem)
            {
                errors[$"payload.{property.Name}"] = [problem];
            }
        }

        foreach (var property in info.Properties)
        {
            var required = property.IsRequired || property.AssociatedParameter is { HasDefaultValue: false };
            if (required && !body.ContainsKey(property.Name) && !body.Any(p => string.Equals(p.Key, property.Name, StringComparison.OrdinalIgnoreCase)))
            {
                errors[$"payload.{property.Name}"] = ["is required."];
            }
        }

        if (errors.Count > 0)
        {
            return (null, errors);
        }

        object? payload;
        try
        {
            payload = body.Deserialize(payloadType, JobJson.Options);
        }
        catch (JsonException ex)
        {
            errors[ex.Path is { Length: > 2 } path ? $"payload.{path[2..]}" : "payload"] = [ex.Message];
            return (null, errors);
        }

        if (payload is null)
        {
            errors["payload"] = ["must not be null."];
            return (null, errors);
        }

        return CheckAnnotations(payload, errors) ? (JsonSerializer.Serialize(payload, payloadType, JobJson.Options), errors) : (null, errors);
    }

    /// <summary>DataAnnotations of the payload; adds their failures to <paramref name="errors"/>. True when none failed.</summary>
    private static bool CheckAnnotations(object payload, Dictionary<string, string[]> errors)
    {
        if (!Annotated.GetOrAdd(payload.GetType(), HasAnnotations))
        {
            return true;
        }

        var results = new List<ValidationResult>();
        if (Validator.TryValidateObject(payload, new ValidationContext(payload), results, validateAllProperties: true))
        {
            return true;
        }

        foreach (var result in results)
        {
            foreach (var member in result.MemberNames.DefaultIfEmpty(string.Empty))
            {
                var key = member.Length == 0 ? "payload" : $"payload.{JsonNamingPolicy.CamelCase.ConvertName(member)}";
                errors[key] = [.. errors.GetValueOrDefault(key, []), Sentence(result.ErrorMessage)];
            }
        }

        return false;
    }

    // Validator.TryValidateObject reflects over every property on every call; most payload types have nothing to check.
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<Type, bool> Annotated = new();

    private static bool HasAnnotations(Type type) =>
        typeof(IValidatableObject).IsAssignableFrom(type)
        || type.GetProperties().Any(p => p.IsDefined(typeof(ValidationAttribute), inherit: true));

    private static string? CheckValue(JsonPropertyInfo property, JsonNode? value)
    {
        if (value is null)
        {
            var nullable = !property.PropertyType.IsValueType
                ? property.IsSetNullable
                : Nullable.GetUnderlyingType(property.PropertyType) is not null;
            return nullable ? null : "must not be null.";
        }

        try
        {
            _ = value.Deserialize(property.PropertyType, JobJson.Options);
            return null;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or FormatException)
        {
            return $"must be {Describe(property.PropertyType)}.";
        }
    }

    private static string Describe(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        return type switch
        {
            _ when type == typeof(string) => "a string",
            _ when type == typeof(bool) => "true or false",
            _ when type == typeof(int) || type == typeof(long) || type == typeof(short) => "a whole number",
            _ when type == typeof(double) || type == typeof(decimal) || type == typeof(float) => "a number",
            _ when type == typeof(JsonObject) => "a JSON object",
            _ when type == typeof(DateTimeOffset) || type == typeof(DateTime) => "an ISO 8601 date and time",
            _ when type == typeof(Guid) => "a GUID",
            _ when type.IsArray || (type.IsGenericType && typeof(System.Collections.IEnumerable).IsAssignableFrom(type)) => "an array",
            _ => $"a {type.Name}",
        };
    }

    // DataAnnotations messages start with the member name ("The Email field is not a valid e-mail address.");
    // the key already names the field, so keep the sentence as it is.
    private static string Sentence(string? message) => message ?? "is invalid.";
}
