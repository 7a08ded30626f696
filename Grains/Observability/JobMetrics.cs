using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OrleansTasks.Jobs;

namespace OrleansTasks.Observability;

/// <summary>
/// The engine's instruments on the meter <see cref="MeterName"/> (shared with <see cref="StorageHeadroom"/>). Names
/// follow the OpenTelemetry messaging conventions where they fit (a job is a message, its type the destination);
/// the rest are <c>orleanstasks.*</c>. Every record call is a struct tag list and an instrument call: without a
/// listener (no exporter configured) the instruments do nothing, and with one nothing is locked or allocated here.
/// </summary>
public sealed class JobMetrics : IDisposable
{
    public const string MeterName = StorageHeadroom.MeterName;

    public const string MessagingSystem = "orleanstasks";

    // Attribute names (OpenTelemetry semantic conventions, then ours).
    public const string SystemTag = "messaging.system";
    public const string DestinationTag = "messaging.destination.name";
    public const string OperationTag = "messaging.operation.name";
    public const string ErrorTypeTag = "error.type";
    public const string OutcomeTag = "orleanstasks.job.outcome";
    public const string SlotStateTag = "orleanstasks.worker.slot.state";
    public const string MisfireActionTag = "orleanstasks.schedule.misfire_action";

    // Seconds, from a few milliseconds (a no-op job's queue wait) to an hour (a long report, a far-behind schedule).
    private static readonly double[] SecondsBuckets =
        [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 1800, 3600];

    private static readonly InstrumentAdvice<double> SecondsAdvice = new() { HistogramBucketBoundaries = SecondsBuckets };

    private readonly Meter _meter;
    private readonly Counter<long> _sent;
    private readonly Histogram<double> _processDuration;
    private readonly Histogram<double> _queueWait;
    private readonly Histogram<double> _scheduleLag;
    private readonly Counter<long> _attempts;
    private readonly Counter<long> _missedOccurrences;
    private readonly IServiceProvider _services;
    private readonly int _maxConcurrency;
    private JobRunner? _runner;

    public JobMetrics(IServiceProvider services, IOptions<JobsOptions> options, IMeterFactory? meters = null)
    {
        ArgumentNullException.ThrowIfNull(options);

        // The runner records through this class, so it is looked up at the first observation, not injected.
        _services = services;
        _maxConcurrency = options.Value.MaxConcurrency;
        _meter = meters?.Create(MeterName) ?? new Meter(MeterName);
        _sent = _meter.CreateCounter<long>("messaging.client.sent.messages", "{message}", "Jobs created by an enqueue (an enqueue of an existing id is not counted)");
        _processDuration = _meter.CreateHistogram("messaging.process.duration", "s", "Duration of one attempt, from the handler's start to its outcome", advice: SecondsAdvice);
        _queueWait = _meter.CreateHistogram("orleanstasks.job.queue_wait", "s", "From a job being ready to run on a silo to its attempt starting (the wait for a worker slot)", advice: SecondsAdvice);
        _scheduleLag = _meter.CreateHistogram("orleanstasks.job.schedule_lag", "s", "From an attempt's planned start (enqueue, runAt, retry time) to its actual start", advice: SecondsAdvice);
        _attempts = _meter.CreateCounter<long>("orleanstasks.job.attempts", "{attempt}", "Attempts ended, by job type and outcome");
        _missedOccurrences = _meter.CreateCounter<long>("orleanstasks.schedule.missed_occurrences", "{occurrence}",
            "Schedule occurrences not fired on time (no silo could fire them), by what the misfire policy did with them");
        _meter.CreateObservableUpDownCounter("orleanstasks.jobs.running", () => Runner.Running - Runner.Stuck, "{job}", "Attempts running on this silo");
        _meter.CreateObservableUpDownCounter("orleanstasks.jobs.queued", () => Runner.Waiting, "{job}", "Jobs on this silo waiting for a worker slot");
        _meter.CreateObservableGauge("orleanstasks.worker.slots", ObserveSlots, "{slot}",
            "Worker slots of this silo: used (handlers running, stuck ones included) and total (Jobs:MaxConcurrency)");
    }

    private JobRunner Runner => _runner ??= _services.GetRequiredService<JobRunner>();

    /// <summary>A new job was stored by an enqueue.</summary>
    public void JobCreated(string type) =>
        _sent.Add(1, new TagList { { SystemTag, MessagingSystem }, { DestinationTag, type }, { OperationTag, "enqueue" } });

    /// <summary>An attempt's handler starts: how long the job waited for it.</summary>
    /// <param name="type">The job type.</param>
    /// <param name="queueWait">Ready to started, when known.</param>
    /// <param name="scheduleLag">Planned start to started, when the planned start is known.</param>
    public void AttemptStarted(string type, TimeSpan? queueWait, TimeSpan? scheduleLag)
    {
        var tags = new TagList { { SystemTag, MessagingSystem }, { DestinationTag, type } };
        if (queueWait is { } wait)
        {
            _queueWait.Record(Math.Max(0, wait.TotalSeconds), tags);
        }

        if (scheduleLag is { } lag)
        {
            _scheduleLag.Record(Math.Max(0, lag.TotalSeconds), tags);
        }
    }

    /// <summary>An attempt ended after <paramref name="duration"/>.</summary>
    public void AttemptEnded(string type, AttemptResult result, TimeSpan duration)
    {
        ArgumentNullException.ThrowIfNull(result);
        var tags = new TagList { { SystemTag, MessagingSystem }, { DestinationTag, type }, { OperationTag, "process" } };
        if (ErrorType(result) is { } error)
        {
            tags.Add(ErrorTypeTag, error);
        }

        _processDuration.Record(duration.TotalSeconds, tags);
        _attempts.Add(1, new TagList { { SystemTag, MessagingSystem }, { DestinationTag, type }, { OutcomeTag, OutcomeName(result.Outcome) } });
    }

    /// <summary>A silo found an attempt of this job stored as running that no silo runs any more (its silo died).</summary>
    public void AttemptInterrupted(string type) =>
        _attempts.Add(1, new TagList { { SystemTag, MessagingSystem }, { DestinationTag, type }, { OutcomeTag, OutcomeName(AttemptOutcome.Interrupted) } });

    /// <summary>A schedule found occurrences it could not fire on time: <paramref name="run"/> run late, <paramref name="skipped"/> never.</summary>
    public void OccurrencesMissed(string type, int run, int skipped)
    {
        if (run > 0)
        {
            _missedOccurrences.Add(run, new TagList { { DestinationTag, type }, { MisfireActionTag, "run" } });
        }

        if (skipped > 0)
        {
            _missedOccurrences.Add(skipped, new TagList { { DestinationTag, type }, { MisfireActionTag, "skipped" } });
        }
    }

    public void Dispose() => _meter.Dispose();

    /// <summary>
    /// <c>error.type</c> of an attempt that did not succeed: the exception's type name (or the engine's error type,
    /// e.g. <c>ResultTooLarge</c>), <c>timeout</c>, <c>cancelled</c> or <c>handed_off</c>; null on success.
    /// </summary>
    public static string? ErrorType(AttemptResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        return result.Outcome switch
        {
            AttemptOutcome.Succeeded => null,
            AttemptOutcome.TimedOut => "timeout",
            AttemptOutcome.Cancelled => "cancelled",
            AttemptOutcome.HandedOff => "handed_off",
            _ => result.Error?.Type ?? "_OTHER",
        };
    }

    /// <summary>The <see cref="OutcomeTag"/> value of an outcome (constant strings: nothing is formatted per attempt).</summary>
    public static string OutcomeName(AttemptOutcome outcome) => outcome switch
    {
        AttemptOutcome.Succeeded => "succeeded",
        AttemptOutcome.Failed => "failed",
        AttemptOutcome.TimedOut => "timed_out",
        AttemptOutcome.Cancelled => "cancelled",
        AttemptOutcome.HandedOff => "handed_off",
        AttemptOutcome.Interrupted => "interrupted",
        _ => "other",
    };

    private IEnumerable<Measurement<int>> ObserveSlots() =>
    [
        new(Runner.Running, new KeyValuePair<string, object?>(SlotStateTag, "used")),
        new(_maxConcurrency, new KeyValuePair<string, object?>(SlotStateTag, "total")),
    ];
}
