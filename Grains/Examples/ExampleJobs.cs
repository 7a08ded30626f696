using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OrleansTasks.Hosting;
using OrleansTasks.Jobs;

namespace OrleansTasks.Examples;

/// <summary>Whether the silo offers the example jobs and how long they take, from the <c>Examples</c> configuration section.</summary>
public sealed class ExamplesOptions
{
    public const string SectionName = "Examples";

    /// <summary>
    /// Registers the three example job types on the silo (read once at start-up). A deployment with its own jobs
    /// turns them off with <c>Examples:Enabled=false</c>. Default: true.
    /// </summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Simulated send time of <c>send_welcome_email</c>. Default: 5 seconds.</summary>
    public TimeSpan EmailDuration { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Simulated work of <c>generate_report</c>. Default: 10 seconds.</summary>
    public TimeSpan ReportDuration { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Simulated work of <c>process_image</c>. Default: 8 seconds.</summary>
    public TimeSpan ImageDuration { get; set; } = TimeSpan.FromSeconds(8);
}

/// <summary>Registers the seed's three example job types.</summary>
public static class ExampleJobs
{
    /// <summary>The address whose welcome e-mail always fails, to show retries and the failed state.</summary>
    public const string FailingEmail = "error@example.com";

    public static JobTypeRegistryBuilder AddExampleJobs(this JobTypeRegistryBuilder jobs)
    {
        ArgumentNullException.ThrowIfNull(jobs);
        jobs.Services.AddOptions<ExamplesOptions>().BindSection(ExamplesOptions.SectionName);
        return jobs
            .Add<SendWelcomeEmailHandler>(o =>
            {
                // As the seed's @dramatiq.actor(max_retries=3, min_backoff=1000).
                o.MaxRetries = 3;
                o.MinBackoff = TimeSpan.FromSeconds(1);
            })
            .Add<GenerateReportHandler>()
            .Add<ProcessImageHandler>();
    }
}

public sealed class SendWelcomeEmailHandler(IOptions<ExamplesOptions> options) : IJobHandler<SendWelcomeEmail, bool>
{
    public async Task<bool> HandleAsync(SendWelcomeEmail payload, JobContext context, CancellationToken cancellationToken)
    {
        await Task.Delay(options.Value.EmailDuration, cancellationToken);
        if (string.Equals(payload.Email, ExampleJobs.FailingEmail, StringComparison.OrdinalIgnoreCase))
        {
            throw new HttpRequestException($"Simulated network error while sending to the mail server (attempt {context.Attempt}).");
        }

        return true;
    }
}

public sealed class GenerateReportHandler(IOptions<ExamplesOptions> options) : IJobHandler<GenerateReport, string>
{
    public async Task<string> HandleAsync(GenerateReport payload, JobContext context, CancellationToken cancellationToken)
    {
        // Ten sections, each reported when done; a retry resumes after the last section an earlier attempt reported.
        const int Sections = 10;
        var done = context.LastProgress is { } last ? (int)(last.Percent / (100 / Sections)) : 0;
        for (var section = done + 1; section <= Sections; section++)
        {
            await Task.Delay(options.Value.ReportDuration / Sections, cancellationToken);
            await context.ReportProgressAsync(section * 100.0 / Sections, new { section, of = Sections });
        }

        return $"Report {payload.ReportId} generated successfully.";
    }
}

public sealed class ProcessImageHandler(IOptions<ExamplesOptions> options) : IJobHandler<ProcessImage, ProcessImageResult>
{
    public async Task<ProcessImageResult> HandleAsync(ProcessImage payload, JobContext context, CancellationToken cancellationToken)
    {
        string[] steps = ["download", "decode", "resize", "encode", "upload"];
        for (var i = 0; i < steps.Length; i++)
        {
            await context.ReportProgressAsync(i * 100.0 / steps.Length, new { step = steps[i] });
            await Task.Delay(options.Value.ImageDuration / steps.Length, cancellationToken);
        }

        await context.ReportProgressAsync(100, new { step = "done" });
        return new ProcessImageResult("processed", payload.UserId, payload.ImageUrl);
    }
}
