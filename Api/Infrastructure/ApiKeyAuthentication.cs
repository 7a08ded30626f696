using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using OrleansTasks.Hosting;

namespace OrleansTasks.Api.Infrastructure;

/// <summary>
/// Authenticates a caller by the key it sends (<c>Authorization: Bearer &lt;key&gt;</c> or <c>X-Api-Key</c>); with
/// no key configured, a direct loopback caller gets every scope and anyone else a 403 that says how to configure keys.
/// </summary>
internal sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, ApiKeyStore keys, IProblemDetailsService problems)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string KeyHeader = "X-Api-Key";

    public const string NoKeysDetail =
        "No API keys are configured, so this API serves only clients on its own machine (loopback, through no proxy). "
        + "To serve other clients, make a key with `dotnet OrleansTasks.Api.dll keys new --name <name> --scopes read,write` "
        + "and configure the Api:Keys:{i}:Name, Api:Keys:{i}:Sha256 and Api:Keys:{i}:Scopes lines it prints "
        + "(environment: Api__Keys__0__Name, Api__Keys__0__Sha256, Api__Keys__0__Scopes__0).";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (keys.IsEmpty)
        {
            return Task.FromResult(Loopback.IsDirectLoopbackCaller(Context)
                ? Success("loopback", ApiScopes.All, keyName: null)
                : AuthenticateResult.NoResult());
        }

        if (Presented(Request) is not { } presented)
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        return Task.FromResult(keys.Find(presented) is { } key
            ? Success(key.Name, key.Scopes, key.Name)
            : AuthenticateResult.Fail("The API key is not one of the configured keys."));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        if (keys.IsEmpty)
        {
            await WriteProblemAsync(StatusCodes.Status403Forbidden, "Only loopback clients are served", NoKeysDetail);
            return;
        }

        var presented = Presented(Request) is not null;
        Response.Headers.WWWAuthenticate = presented
            ? "Bearer realm=\"OrleansTasks\", error=\"invalid_token\""
            : "Bearer realm=\"OrleansTasks\"";
        await WriteProblemAsync(StatusCodes.Status401Unauthorized,
            presented ? "Unknown API key" : "API key required",
            presented
                ? "The API key sent is not one of the configured keys."
                : $"Send an API key as 'Authorization: Bearer <key>' or '{KeyHeader}: <key>'.");
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        // The endpoint's policy is its scope; an endpoint without one falls back to admin.
        var scope = Context.GetEndpoint()?.Metadata.GetOrderedMetadata<IAuthorizeData>().Select(a => a.Policy).LastOrDefault(p => p is not null)
            ?? ApiScopes.Admin;
        var name = Context.User.Identity?.Name ?? "this caller";
        return WriteProblemAsync(StatusCodes.Status403Forbidden, "Scope missing",
            $"This endpoint needs the '{scope}' scope (or admin); the key '{name}' does not have it.");
    }

    /// <summary>The key the caller sent, if any: a bearer token first, else the X-Api-Key header.</summary>
    internal static string? Presented(HttpRequest request)
    {
        var authorization = request.Headers.Authorization.ToString();
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && authorization[7..].Trim() is { Length: > 0 } bearer)
        {
            return bearer;
        }

        return request.Headers[KeyHeader].ToString().Trim() is { Length: > 0 } header ? header : null;
    }

    private AuthenticateResult Success(string name, IEnumerable<string> scopes, string? keyName)
    {
        var claims = new List<Claim> { new(ClaimTypes.Name, name) };
        claims.AddRange(scopes.Select(s => new Claim(ApiScopes.ClaimType, s)));
        if (keyName is not null)
        {
            claims.Add(new Claim(ApiScopes.KeyClaimType, keyName));
        }

        var principal = new ClaimsPrincipal(new ClaimsIdentity(claims, SchemeName));
        return AuthenticateResult.Success(new AuthenticationTicket(principal, SchemeName));
    }

    private async Task WriteProblemAsync(int status, string title, string detail)
    {
        Response.StatusCode = status;
        await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = Context,
            ProblemDetails = new ProblemDetails { Status = status, Title = title, Detail = detail },
        });
    }
}

/// <summary>Wires keys, scopes and rate limits into the API.</summary>
public static class ApiSecurity
{
    public static WebApplicationBuilder AddApiSecurity(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddOptions<ApiKeysOptions>().BindSection(ApiOptions.SectionName).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<ApiKeysOptions>, ApiKeysValidator>();
        builder.Services.AddSingleton<ApiKeyStore>();
        builder.Services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);

        var admin = Scope(ApiScopes.Admin);
        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(ApiScopes.Read, Scope(ApiScopes.Read))
            .AddPolicy(ApiScopes.Write, Scope(ApiScopes.Write))
            .AddPolicy(ApiScopes.Admin, admin)

            // An endpoint that names no scope (a route added later and forgotten) needs admin, never nothing.
            .SetFallbackPolicy(admin);
        builder.AddApiRateLimiting();
        return builder;
    }

    /// <summary>Authentication, then the rate limiter (so it can partition by key), then authorization.</summary>
    public static WebApplication UseApiSecurity(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.UseAuthentication();
        app.UseApiRateLimiting();
        app.UseAuthorization();
        return app;
    }

    private static AuthorizationPolicy Scope(string scope) => new AuthorizationPolicyBuilder(ApiKeyAuthenticationHandler.SchemeName)
        .RequireAuthenticatedUser()
        .RequireAssertion(context => ApiScopes.Has(context.User, scope))
        .Build();
}
