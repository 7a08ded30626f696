using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using OrleansTasks.Infrastructure;

namespace OrleansTasks.Schedules;

/// <summary>Schedules declared in code (<c>jobs.AddSchedule(...)</c>), each with a hash of its definition.</summary>
public sealed class CodeSchedules(IReadOnlyList<(string Id, ScheduleDefinition Definition)> schedules)
{
    public IReadOnlyList<(string Id, ScheduleDefinition Definition, string Hash)> All { get; } =
        [.. schedules.Select(s => (s.Id, s.Definition, Hash(s.Definition)))];

    /// <summary>A hash of the definition as code declares it: the same code gives the same hash on every silo.</summary>
    public static string Hash(ScheduleDefinition definition) =>
        Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(definition))));
}

/// <summary>
/// Upserts the code's schedules when a silo becomes active. Every silo does it: a definition whose hash was already
/// applied changes nothing, so they never fight; a changed one is applied once (the schedule grain serializes them).
/// </summary>
public sealed partial class CodeScheduleStarter(CodeSchedules schedules, IGrainFactory grains, ILogger<CodeScheduleStarter> logger)
    : ILifecycleParticipant<ISiloLifecycle>
{
    private readonly CancellationTokenSource _stopping = new();

    public void Participate(ISiloLifecycle lifecycle)
    {
        ArgumentNullException.ThrowIfNull(lifecycle);
        lifecycle.Subscribe(nameof(CodeScheduleStarter), ServiceLifecycleStage.Active, OnStart, _ => _stopping.CancelAsync());
    }

    private Task OnStart(CancellationToken cancellationToken)
    {
        foreach (var (id, definition, hash) in schedules.All)
        {
            BackgroundRetry.Run(async () => LogApplied(id, (await grains.GetGrain<IScheduleGrain>(id).UpsertFromCodeAsync(definition, hash)).Outcome),
                (ex, attempt) => LogFailed(ex, id, attempt), _stopping.Token);
        }

        return Task.CompletedTask;
    }

    [LoggerMessage(810, LogLevel.Information, "Schedule {ScheduleId} declared in code: {Outcome}")]
    private partial void LogApplied(string scheduleId, ScheduleOutcome outcome);

    [LoggerMessage(811, LogLevel.Warning, "Schedule {ScheduleId} declared in code could not be applied (attempt {Attempt}); retrying")]
    private partial void LogFailed(Exception exception, string scheduleId, int attempt);
}
