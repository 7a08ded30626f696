namespace OrleansTasks.Jobs;

/// <summary>How far the job's current (or last) attempt got, as its handler last reported it.</summary>
/// <param name="Percent">0 to 100.</param>
/// <param name="DetailJson">What the handler passed as detail, as JSON; null when it passed none.</param>
/// <param name="UpdatedAt">When the handler reported it.</param>
[GenerateSerializer, Immutable, Alias("OrleansTasks.JobProgress")]
public sealed record JobProgress([property: Id(0)] double Percent, [property: Id(1)] string? DetailJson, [property: Id(2)] DateTimeOffset UpdatedAt);
