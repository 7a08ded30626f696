using OrleansTasks.Hosting;

namespace OrleansTasks.Api.Infrastructure;

/// <summary>HTTP-side settings, bound from the <c>Api</c> configuration section.</summary>
public sealed class ApiOptions
{
    public const string SectionName = "Api";

    /// <summary>Largest accepted request body; larger ones get 413. Default: 256 KiB.</summary>
    public long MaxRequestBytes { get; set; } = 256 * 1024;

    /// <summary>How long <c>/health/ready</c> waits for the cluster (and, through a silo, its storage) to answer. Default: 2 seconds.</summary>
    public TimeSpan ReadinessTimeout { get; set; } = TimeSpan.FromSeconds(2);
}

/// <summary>Registers <see cref="ApiOptions"/>; outside Program.cs so the tests bind them exactly as the API does.</summary>
public static class ApiOptionsRegistration
{
    public static WebApplicationBuilder AddApiOptions(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddOptions<ApiOptions>().BindSection(ApiOptions.SectionName)
            .Validate(o => o.MaxRequestBytes > 0, "Api:MaxRequestBytes must be positive.")
            .ValidateOnStart();
        return builder;
    }
}
