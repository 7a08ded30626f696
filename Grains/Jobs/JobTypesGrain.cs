using Orleans.Concurrency;

namespace OrleansTasks.Jobs;

/// <summary>Answers job-type questions from the local registry on whichever silo receives the call.</summary>
[StatelessWorker]
[GrainType("jobtypes")]
public sealed class JobTypesGrain(JobTypeRegistry registry) : Grain, IJobTypesGrain
{
    public Task<IReadOnlyList<JobTypeInfo>> GetJobTypesAsync() =>
        Task.FromResult<IReadOnlyList<JobTypeInfo>>([.. registry.All.Select(t => t.ToInfo())]);
}
