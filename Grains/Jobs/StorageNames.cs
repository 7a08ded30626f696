using OrleansTasks.Jobs.Bulk;

namespace OrleansTasks.Jobs;

/// <summary>Names of the storage providers the grains use.</summary>
public static class StorageNames
{
    /// <summary>Grain storage holding job state.</summary>
    public const string Jobs = "jobs";

    /// <summary>Grain storage holding recurring schedules (the stock provider: no indexes needed).</summary>
    public const string Schedules = "schedules";

    /// <summary>Grain storage holding bulk operations (<see cref="BulkOperationGrain"/>).</summary>
    public const string Operations = "operations";
}
