using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Xml;

namespace OrleansTasks.Api.Infrastructure;

/// <summary>The API's JSON conventions: camelCase, unknown fields refused, durations as ISO 8601 or hh:mm:ss.</summary>
public static class ApiJson
{
    public static void Configure(JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);

        // A misspelt option ("max_retries") must be an error, not a silently ignored field.
        options.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow;
        options.Converters.Add(new DurationConverter());
    }

    /// <summary>
    /// Reads <c>"PT15S"</c>, <c>"P7D"</c> (ISO 8601) or <c>"00:00:15"</c>, <c>"7.00:00:00"</c> (.NET constant format);
    /// writes the .NET constant format.
    /// </summary>
    public sealed class DurationConverter : JsonConverter<TimeSpan>
    {
        public override TimeSpan Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            if (reader.TokenType != JsonTokenType.String)
            {
                throw new JsonException("A duration must be a string: ISO 8601 (\"PT30S\") or hh:mm:ss (\"00:00:30\").");
            }

            var text = reader.GetString()!;
            if (text.StartsWith('P') || text.StartsWith("-P", StringComparison.Ordinal))
            {
                try
                {
                    return XmlConvert.ToTimeSpan(text);
                }
                catch (FormatException)
                {
                    throw new JsonException($"'{text}' is not an ISO 8601 duration such as \"PT30S\".");
                }
                catch (OverflowException)
                {
                    // "P99999999D" is well-formed but beyond TimeSpan: still the client's input, so a 400 naming the field.
                    throw new JsonException($"'{text}' is longer than any duration this API accepts.");
                }
            }

            return TimeSpan.TryParseExact(text, "c", CultureInfo.InvariantCulture, out var value)
                ? value
                : throw new JsonException($"'{text}' is not a duration: use ISO 8601 (\"PT30S\") or hh:mm:ss (\"00:00:30\").");
        }

        public override void Write(Utf8JsonWriter writer, TimeSpan value, JsonSerializerOptions options) =>
            writer.WriteStringValue(value.ToString("c", CultureInfo.InvariantCulture));
    }
}
