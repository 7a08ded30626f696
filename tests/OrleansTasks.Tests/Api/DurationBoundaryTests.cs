using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using OrleansTasks.Tests.Infrastructure;

namespace OrleansTasks.Tests.Api;

/// <summary>
/// Every duration and instant field of <c>POST /jobs</c> at the edges of its documented limits (JobOptions.cs): just
/// inside is accepted, just outside, negative, overflowing or absurd is a 400 naming the field, never a 500. The seed
/// endpoints (/signup, /create_report, /process_image) take no duration or instant, so they have no rows here.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class DurationBoundaryTests(ApiFixture api)
{
    // Values no field accepts: beyond TimeSpan's range (ISO and d.hh:mm:ss forms), or representable but absurd.
    private static readonly string[] Huge =
    [
        "P99999999D", "-P99999999D", "PT99999999999999H", "P1000000Y", "P29227Y",
        "99999999.00:00:00", "10675199.02:48:05.4775808", "-10675199.02:48:05.4775809",
        "10675199.02:48:05.4775807", "-10675199.02:48:05.4775808",
    ];

    // THE limits, one line per field: values just inside (202) and just outside (400). Adjust here when a limit moves.
    // runAt values are relative to now: "now+<ISO duration>" or "now-<ISO duration>"; others are literal.
    private static readonly (string Field, string[] Inside, string[] Outside)[] Limits =
    [
        ("timeout", ["PT0.001S", "00:00:00.001", "P365D", "365.00:00:00"], ["PT0S", "PT0.0009S", "-PT0.001S", "-P1D", "P365DT0.001S", "365.00:00:00.0010000", "P366D"]),
        ("minBackoff", ["PT0.001S", "00:00:00.001", "P365D", "365.00:00:00"], ["PT0S", "PT0.0009S", "-PT0.001S", "-P1D", "P365DT0.001S", "365.00:00:00.0010000", "P366D"]),
        ("maxBackoff", ["PT0.001S", "00:00:00.001", "P365D", "365.00:00:00"], ["PT0S", "PT0.0009S", "-PT0.001S", "-P1D", "P365DT0.001S", "365.00:00:00.0010000", "P366D"]),
        ("delay", ["PT0S", "00:00:00", "P365D", "365.00:00:00"], ["-PT0.001S", "-00:00:00.0010000", "-P1D", "P365DT0.001S", "365.00:00:00.0010000", "P366D"]),
        ("runAt", ["now-PT15S", "now+P364DT23H59M"],
            ["now-PT45S", "now+P365DT1M", "9999-12-31T23:59:59Z", "9999-12-31T23:59:59.9999999Z", "0001-01-01T00:00:00Z",
             "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2001-01-01T00:00:00Z"]),
        ("maxAge", ["P1D", "1.00:00:00", "P365D", "365.00:00:00"], ["PT0S", "-PT0.001S", "-P1D", "P365DT0.001S", "365.00:00:00.0010000", "P366D"]),
        ("startBy", ["now+P1DT1M", "now+P364DT23H59M"],
            ["now-PT1S", "now+P365DT1M", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "2001-01-01T00:00:00Z"]),
    ];

    // Companions that make an accepted row acceptable (backoffs must be ordered) and keep its job from running
    // during the test (a delay), so only acceptance is judged here.
    private static readonly Dictionary<string, string> InsideCompanions = new()
    {
        ["timeout"] = "\"delay\":\"P1D\"",
        ["minBackoff"] = "\"delay\":\"P1D\",\"maxBackoff\":\"P365D\"",
        ["maxBackoff"] = "\"delay\":\"P1D\",\"minBackoff\":\"PT0.001S\"",
        ["delay"] = "\"maxRetries\":0",
        ["runAt"] = "\"maxRetries\":0",
        ["maxAge"] = "\"delay\":\"P1D\"",
        ["startBy"] = "\"delay\":\"P1D\"",
    };

    public static TheoryData<string, string, int> Table
    {
        get
        {
            var rows = new TheoryData<string, string, int>();
            foreach (var (name, inside, outside) in Limits)
            {
                foreach (var value in inside)
                {
                    rows.Add(name, value, StatusCodes.Accepted);
                }

                foreach (var value in outside.Concat(name is "runAt" or "startBy" ? [] : Huge))
                {
                    rows.Add(name, value, StatusCodes.BadRequest);
                }
            }

            return rows;
        }
    }

    [Theory]
    [MemberData(nameof(Table))]
    public async Task DurationsAndInstantsOutsideTheirLimitsAre400NamingTheFieldAndInsideAreAccepted(string field, string value, int status)
    {
        var companions = status == StatusCodes.Accepted ? "," + InsideCompanions[field] : string.Empty;
        var body = $$"""{"type":"test_echo","payload":{"value":"x"},"{{field}}":"{{Resolve(value)}}"{{companions}}}""";
        var before = await api.StateKeysAsync();

        using var response = await api.Http.PostAsync(new Uri("/jobs", UriKind.Relative), ApiFixture.Json(body));

        var text = await response.Content.ReadAsStringAsync();
        Assert.True(status == (int)response.StatusCode, $"{field}={value}: expected {status}, got {(int)response.StatusCode} {text}");
        if (status == StatusCodes.Accepted)
        {
            return;
        }

        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal(400, problem["status"]!.GetValue<int>());
        Assert.True(problem["errors"]?.AsObject().ContainsKey(field) == true, $"errors should name '{field}': {text}");
        Assert.Equal(before, await api.StateKeysAsync());
    }

    // "now+P364D" becomes an instant at run time: computed at discovery, a margin of seconds could already be used up.
    private static string Resolve(string value)
    {
        if (!value.StartsWith("now", StringComparison.Ordinal))
        {
            return value;
        }

        var offset = System.Xml.XmlConvert.ToTimeSpan(value[4..]);
        var instant = DateTimeOffset.UtcNow + (value[3] == '-' ? -offset : offset);
        return instant.ToString("O", CultureInfo.InvariantCulture);
    }

    private static class StatusCodes
    {
        public const int Accepted = (int)HttpStatusCode.Accepted;
        public const int BadRequest = (int)HttpStatusCode.BadRequest;
    }
}
