using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using OrleansTasks.Hosting;

namespace OrleansTasks.Api.Infrastructure;

/// <summary>Per-caller request rate, <c>Api:RateLimit</c>. Off while <see cref="PermitsPerSecond"/> is unset.</summary>
public sealed class ApiRateLimitOptions
{
    public const string SectionName = "Api:RateLimit";

    /// <summary>Requests per second one key (or, without a key, one remote address) may make on average. Default: unset (no limit).</summary>
    public int? PermitsPerSecond { get; set; }

    /// <summary>Requests such a caller may make at once after being idle. Default: <see cref="PermitsPerSecond"/>.</summary>
    public int? Burst { get; set; }
}

/// <summary>
/// ASP.NET Core's rate limiter, one token bucket per key (per remote address for callers without one). Health probes
/// are never limited: an orchestrator must not see a busy API as a dead one.
/// </summary>
public static class ApiRateLimiting
{
    public static WebApplicationBuilder AddApiRateLimiting(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddOptions<ApiRateLimitOptions>().BindSection(ApiRateLimitOptions.SectionName)
            .Validate(o => o.PermitsPerSecond is null or > 0, "Api:RateLimit:PermitsPerSecond must be positive (or unset: no limit).")
            .Validate(o => o.Burst is null or > 0, "Api:RateLimit:Burst must be positive.")
            .Validate(o => o.Burst is null || o.PermitsPerSecond is not null, "Api:RateLimit:Burst is set but Api:RateLimit:PermitsPerSecond is not; set both, or neither for no limit.")
            .ValidateOnStart();
        builder.Services.AddRateLimiter(_ => { });
        builder.Services.AddOptions<RateLimiterOptions>().Configure<IOptions<ApiRateLimitOptions>>((limiter, options) =>
        {
            var limits = options.Value;
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limiter.OnRejected = (context, _) => RejectAsync(context, limits);
            if (limits.PermitsPerSecond is not { } permits)
            {
                return;
            }

            var bucket = new TokenBucketRateLimiterOptions
            {
                TokenLimit = limits.Burst ?? permits,
                TokensPerPeriod = permits,
                ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                QueueLimit = 0,
                AutoReplenishment = true,
            };
            limiter.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(http =>
                http.Request.Path.StartsWithSegments("/health")
                    ? RateLimitPartition.GetNoLimiter(string.Empty)
                    : RateLimitPartition.GetTokenBucketLimiter(Partition(http), _ => bucket));
        });
        return builder;
    }

    public static WebApplication UseApiRateLimiting(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.UseRateLimiter();
        return app;
    }

    private static string Partition(HttpContext http) => http.User.FindFirst(ApiScopes.KeyClaimType)?.Value is { } key
        ? "key:" + key
        : "address:" + (http.Connection.RemoteIpAddress?.ToString() ?? "none");

    private static async ValueTask RejectAsync(OnRejectedContext context, ApiRateLimitOptions limits)
    {
        var seconds = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter)
            ? Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds))
            : 1;
        var http = context.HttpContext;
        http.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        await http.RequestServices.GetRequiredService<IProblemDetailsService>().TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            ProblemDetails = new ProblemDetails
            {
                Status = StatusCodes.Status429TooManyRequests,
                Title = "Too many requests",
                Detail = $"This key (or, without one, this address) may make {limits.PermitsPerSecond} requests per second, "
                    + $"{limits.Burst ?? limits.PermitsPerSecond} at once (Api:RateLimit). Retry after {seconds} s.",
            },
        });
    }
}
