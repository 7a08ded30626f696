using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace OrleansTasks.Api.Infrastructure;

/// <summary>
/// Tells OpenAPI readers (the /docs page, client generators) how to authenticate: the two ways to send an API key as
/// security schemes, and on each secured operation a requirement naming the scope it needs.
/// </summary>
public static class OpenApiSecurity
{
    /// <summary>The scheme for <c>Authorization: Bearer &lt;key&gt;</c>.</summary>
    public const string BearerScheme = "Bearer";

    /// <summary>The scheme for the <c>X-Api-Key</c> header.</summary>
    public const string HeaderScheme = "ApiKey";

    public static OpenApiOptions AddApiKeySecurity(this OpenApiOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.AddDocumentTransformer<SchemesTransformer>();
        options.AddOperationTransformer<RequirementTransformer>();
        return options;
    }

    private sealed class SchemesTransformer : IOpenApiDocumentTransformer
    {
        public Task TransformAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken)
        {
            document.Components ??= new OpenApiComponents();
            document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>(StringComparer.Ordinal);
            document.Components.SecuritySchemes[BearerScheme] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                Description = "An API key as a bearer token: `Authorization: Bearer <key>`. Scopes: read, write, admin (docs/security.md).",
            };
            document.Components.SecuritySchemes[HeaderScheme] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.ApiKey,
                In = ParameterLocation.Header,
                Name = ApiKeyAuthenticationHandler.KeyHeader,
                Description = $"An API key in the `{ApiKeyAuthenticationHandler.KeyHeader}` header. Scopes: read, write, admin (docs/security.md).",
            };
            return Task.CompletedTask;
        }
    }

    private sealed class RequirementTransformer : IOpenApiOperationTransformer
    {
        public Task TransformAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
        {
            var metadata = context.Description.ActionDescriptor.EndpointMetadata;
            if (metadata.OfType<IAllowAnonymous>().Any())
            {
                return Task.CompletedTask;
            }

            // As the API decides (ApiKeyAuthenticationHandler): the endpoint's last named policy is its scope, and an
            // endpoint naming none falls back to admin. The scope is listed as the requirement's role (OpenAPI 3.1).
            var scope = metadata.OfType<IAuthorizeData>().Select(a => a.Policy).LastOrDefault(p => p is not null) ?? ApiScopes.Admin;

            // Two requirements: either way of sending the key is enough.
            operation.Security ??= [];
            operation.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(BearerScheme, context.Document)] = [scope] });
            operation.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(HeaderScheme, context.Document)] = [scope] });
            return Task.CompletedTask;
        }
    }
}
