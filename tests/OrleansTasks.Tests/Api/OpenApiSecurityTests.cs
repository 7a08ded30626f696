using System.Net.Http.Json;
using System.Text.Json.Nodes;
using OrleansTasks.Tests.Infrastructure;

namespace OrleansTasks.Tests.Api;

/// <summary>The OpenAPI document tells readers how to send an API key and which scope each operation needs.</summary>
[Collection(ApiCollection.Name)]
public sealed class OpenApiSecurityTests(ApiFixture api)
{
    [Fact]
    public async Task OpenApiDocumentDeclaresBearerAndApiKeyHeaderSchemesAndEachSecuredOperationsScope()
    {
        var document = (await api.Http.GetFromJsonAsync<JsonObject>(new Uri("/openapi/v1.json", UriKind.Relative)))!;

        var schemes = document["components"]!["securitySchemes"]!;
        Assert.Equal("http", schemes["Bearer"]!["type"]!.GetValue<string>());
        Assert.Equal("bearer", schemes["Bearer"]!["scheme"]!.GetValue<string>());
        Assert.Equal("apiKey", schemes["ApiKey"]!["type"]!.GetValue<string>());
        Assert.Equal("header", schemes["ApiKey"]!["in"]!.GetValue<string>());
        Assert.Equal("X-Api-Key", schemes["ApiKey"]!["name"]!.GetValue<string>());

        var paths = document["paths"]!;
        Assert.Equal(["ApiKey:write", "Bearer:write"], Requirements(paths["/jobs"]!["post"]!));
        Assert.Equal(["ApiKey:write", "Bearer:write"], Requirements(paths["/signup"]!["post"]!));
        Assert.Equal(["ApiKey:read", "Bearer:read"], Requirements(paths["/jobs/{id}"]!["get"]!));
        Assert.Equal(["ApiKey:admin", "Bearer:admin"], Requirements(paths["/jobs/{id}"]!["delete"]!));
        Assert.Equal(["ApiKey:admin", "Bearer:admin"], Requirements(paths["/jobs/bulk"]!["post"]!));

        // The probes stay open, and the document says so.
        Assert.Empty(Requirements(paths["/health/ready"]!["get"]!));
        Assert.Empty(Requirements(paths["/health/live"]!["get"]!));
    }

    /// <summary>Each alternative requirement of <paramref name="operation"/> as "scheme:scope", sorted.</summary>
    private static string[] Requirements(JsonNode operation) =>
        [.. (operation["security"]?.AsArray() ?? [])
            .SelectMany(r => r!.AsObject().Select(s => $"{s.Key}:{string.Join(',', s.Value!.AsArray().Select(v => v!.GetValue<string>()))}"))
            .Order(StringComparer.Ordinal)];
}
