using OrleansTasks.Jobs;

namespace OrleansTasks.Tests.Unit;

/// <summary>Calls <see cref="JobStateMachine"/> with the facts of an idle activation that can run every type.</summary>
internal static class Machine
{
    public static JobFacts Facts(TimeSpan recovery) => new() { JobId = "job-1", RecoveryInterval = recovery, SlotsTotal = 4, Silo = "silo-a" };

    /// <summary>The transition for an event that must be one (a refusal fails the test).</summary>
    public static JobTransition Apply(JobState? state, JobEvent e, TimeSpan recovery) =>
        Assert.IsType<JobTransition>(JobStateMachine.Apply(state, e, Facts(recovery)));
}
