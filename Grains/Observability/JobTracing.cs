using System.Diagnostics;
using Microsoft.Extensions.Logging;
using OrleansTasks.Jobs;

namespace OrleansTasks.Observability;

/// <summary>
/// Traces and log scopes of attempts. Each attempt runs in a <c>process {type}</c> span (<see cref="ActivityKind.Consumer"/>)
/// of the source <see cref="SourceName"/>, child of and linked to the <c>traceparent</c> stored with the job at its
/// enqueue (<see cref="JobState.TraceParent"/>): one trace holds the enqueue request and every attempt, on whichever
/// silo each ran. Handlers inherit the span and a log scope with <c>JobId</c> and <c>JobType</c>, since both flow
/// with the execution context into <see cref="JobRunner"/>'s <c>Task.Run</c>.
/// </summary>
public static class JobTracing
{
    public const string SourceName = "OrleansTasks";

    /// <summary>The engine's activity source (ActivitySource has no factory: one per process, as is usual).</summary>
    public static readonly ActivitySource Source = new(SourceName);

    private static readonly Func<ILogger, string, string, IDisposable?> AttemptScope =
        LoggerMessage.DefineScope<string, string>("Job {JobId} ({JobType})");

    /// <summary>Starts the span and log scope of attempt <paramref name="attempt"/> of job <paramref name="jobId"/>.</summary>
    public static AttemptTrace BeginAttempt(ILogger logger, string jobId, JobState state, int attempt)
    {
        ArgumentNullException.ThrowIfNull(state);
        var scope = AttemptScope(logger, jobId, state.Type);
        if (!Source.HasListeners())
        {
            return new AttemptTrace(null, scope);
        }

        // Without a stored parent the span is a new root, never a child of whatever call happened to start the pump.
        var previous = Activity.Current;
        Activity.Current = null;
        ActivityLink[]? links = null;
        if (ActivityContext.TryParse(state.TraceParent, null, isRemote: true, out var parent))
        {
            links = [new ActivityLink(parent)];
        }

        var activity = Source.StartActivity($"process {state.Type}", ActivityKind.Consumer, parent, links: links);
        if (activity is null)
        {
            Activity.Current = previous;
        }
        else if (activity.IsAllDataRequested)
        {
            activity.SetTag(JobMetrics.SystemTag, JobMetrics.MessagingSystem);
            activity.SetTag(JobMetrics.OperationTag, "process");
            activity.SetTag("messaging.operation.type", "process");
            activity.SetTag(JobMetrics.DestinationTag, state.Type);
            activity.SetTag("messaging.message.id", jobId);
            activity.SetTag("orleanstasks.job.attempt", attempt);
        }

        return new AttemptTrace(activity, scope, previous);
    }

    /// <summary>The span and log scope of one attempt; dispose when the attempt's outcome is stored.</summary>
    public readonly struct AttemptTrace(Activity? activity, IDisposable? scope, Activity? previous = null) : IDisposable
    {
        /// <summary>The attempt's span, null when nobody listens.</summary>
        public Activity? Activity => activity;

        /// <summary>Marks the span with the attempt's outcome.</summary>
        public void Ended(AttemptResult result)
        {
            ArgumentNullException.ThrowIfNull(result);
            if (activity is not { IsAllDataRequested: true })
            {
                return;
            }

            activity.SetTag(JobMetrics.OutcomeTag, JobMetrics.OutcomeName(result.Outcome));
            if (JobMetrics.ErrorType(result) is { } error)
            {
                activity.SetTag(JobMetrics.ErrorTypeTag, error);
                activity.SetStatus(ActivityStatusCode.Error, result.Error?.Message);
            }
        }

        public void Dispose()
        {
            if (activity is not null)
            {
                activity.Dispose();
                System.Diagnostics.Activity.Current = previous;
            }

            scope?.Dispose();
        }
    }
}
