namespace OrleansTasks.Jobs;

/// <summary>
/// The typed front door for C# callers (a silo, the API, any Orleans client):
/// <c>await jobs.EnqueueAsync(new SendWelcomeEmail("a@example.com"))</c>.
/// </summary>
public sealed class JobClient(IGrainFactory grains)
{
    /// <summary>Enqueues <paramref name="payload"/> as the job type named on its <see cref="JobTypeAttribute"/>.</summary>
    /// <param name="payload">The payload record.</param>
    /// <param name="options">Overrides of the type's defaults; null for none.</param>
    /// <param name="id">The job id; null to generate one. Same id twice never makes two jobs.</param>
    public Task<EnqueueResult> EnqueueAsync<TPayload>(TPayload payload, JobOptions? options = null, string? id = null)
        where TPayload : notnull =>
        EnqueueAsync(JobTypeAttribute.NameOf<TPayload>(), JobJson.Serialize(payload), options, id);

    /// <summary>Enqueues a job by type name with a JSON payload, as the HTTP API does.</summary>
    /// <exception cref="ArgumentException">The id is not a valid job id.</exception>
    public Task<EnqueueResult> EnqueueAsync(string type, string payloadJson, JobOptions? options = null, string? id = null)
    {
        ArgumentNullException.ThrowIfNull(type);
        ArgumentNullException.ThrowIfNull(payloadJson);
        id ??= JobId.New();
        if (JobId.Validate(id) is { } problem)
        {
            throw new ArgumentException($"Job id {problem}", nameof(id));
        }

        return grains.GetGrain<IJobGrain>(id).EnqueueAsync(new EnqueueRequest(type, payloadJson, options ?? JobOptions.None)
        {
            // The caller's span (the API's HTTP request) becomes the parent of the job's attempts; only a sampled one,
            // so an untraced enqueue stores nothing.
            TraceParent = System.Diagnostics.Activity.Current is { Recorded: true, IdFormat: System.Diagnostics.ActivityIdFormat.W3C } current ? current.Id : null,
        });
    }

    /// <summary>The job's snapshot, or null when there is no such job (or the id could never name one).</summary>
    public Task<JobSnapshot?> GetAsync(string id) =>
        JobId.Validate(id) is null ? grains.GetGrain<IJobGrain>(id).GetSnapshotAsync() : Task.FromResult<JobSnapshot?>(null);

    /// <summary>Cancels a job (see <see cref="IJobGrain.CancelAsync"/>).</summary>
    public Task<JobCommandResult> CancelAsync(string id) => CommandAsync(id, static grain => grain.CancelAsync());

    /// <summary>Runs a finished job again as a new round (see <see cref="IJobGrain.RequeueAsync"/>).</summary>
    public Task<JobCommandResult> RequeueAsync(string id) => CommandAsync(id, static grain => grain.RequeueAsync());

    /// <summary>Deletes a finished job (see <see cref="IJobGrain.DeleteAsync"/>).</summary>
    public Task<JobCommandResult> DeleteAsync(string id) => CommandAsync(id, static grain => grain.DeleteAsync());

    private Task<JobCommandResult> CommandAsync(string id, Func<IJobGrain, Task<JobCommandResult>> command) =>
        JobId.Validate(id) is null
            ? command(grains.GetGrain<IJobGrain>(id))
            : Task.FromResult(new JobCommandResult { Outcome = JobCommandOutcome.NotFound });

    /// <summary>
    /// A page of jobs matching <paramref name="filter"/>, newest first (see <see cref="IJobQueryGrain.ListAsync"/>);
    /// pass the page's <see cref="JobPage.NextCursor"/> for the next one.
    /// </summary>
    public Task<JobPage> ListAsync(JobFilter? filter = null, int limit = 50, string? cursor = null) =>
        grains.GetGrain<IJobQueryGrain>(0).ListAsync(filter ?? new JobFilter(), limit, cursor);

    /// <summary>Every job matching <paramref name="filter"/>, newest first, page by page.</summary>
    public async IAsyncEnumerable<JobSummary> ListAllAsync(JobFilter? filter = null, int pageSize = 500)
    {
        string? cursor = null;
        do
        {
            var page = await ListAsync(filter, pageSize, cursor);
            foreach (var item in page.Items)
            {
                yield return item;
            }

            cursor = page.NextCursor;
        }
        while (cursor is not null);
    }

    /// <summary>Jobs per status, for all types or <paramref name="type"/>.</summary>
    public Task<JobCounts> CountsAsync(string? type = null) => grains.GetGrain<IJobQueryGrain>(0).CountsAsync(type);

    /// <summary>How many jobs match <paramref name="filter"/> now.</summary>
    public Task<long> CountMatchingAsync(JobFilter filter) => grains.GetGrain<IJobQueryGrain>(0).CountMatchingAsync(filter);

    /// <summary>
    /// Starts a bulk <paramref name="action"/> over every job <paramref name="filter"/> matches (an empty filter matches
    /// every job) that exists now; returns once the operation is stored, with <see cref="BulkOperationStatus.Matched"/>
    /// counted. Follow it with <see cref="GetBulkAsync"/>. For a dry run, <see cref="CountMatchingAsync"/>.
    /// </summary>
    /// <param name="action">What to do to each job.</param>
    /// <param name="filter">Which jobs.</param>
    /// <param name="operationId">The operation's id; null to generate one. Starting the same id again with the same action and filter returns that operation.</param>
    /// <exception cref="ArgumentException">The filter or the id is invalid.</exception>
    public Task<BulkOperationStatus> StartBulkAsync(BulkAction action, JobFilter filter, string? operationId = null)
    {
        ArgumentNullException.ThrowIfNull(filter);
        if (filter.Validate() is { Count: > 0 } errors)
        {
            throw new ArgumentException($"The filter is invalid: {string.Join("; ", errors.Select(e => $"{e.Key} {string.Join(" ", e.Value)}"))}", nameof(filter));
        }

        operationId ??= JobId.New();
        if (JobId.Validate(operationId) is { } problem)
        {
            throw new ArgumentException($"Operation id {problem}", nameof(operationId));
        }

        return grains.GetGrain<IBulkOperationGrain>(operationId).StartAsync(action, filter);
    }

    /// <summary>A bulk operation's progress, or null when there is no such operation.</summary>
    public Task<BulkOperationStatus?> GetBulkAsync(string operationId) =>
        JobId.Validate(operationId) is null
            ? grains.GetGrain<IBulkOperationGrain>(operationId).GetAsync()
            : Task.FromResult<BulkOperationStatus?>(null);

    /// <summary>The job types the cluster knows, with their default options.</summary>
    public Task<IReadOnlyList<JobTypeInfo>> GetJobTypesAsync() => grains.GetGrain<IJobTypesGrain>(0).GetJobTypesAsync();
}
