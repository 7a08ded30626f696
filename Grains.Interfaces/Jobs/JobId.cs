using System.Buffers;

namespace OrleansTasks.Jobs;

/// <summary>Job ids: the grain key, so one id can never name two jobs.</summary>
public static class JobId
{
    /// <summary>Longest accepted id.</summary>
    public const int MaxLength = 128;

    private static readonly SearchValues<char> Allowed =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-");

    /// <summary>A new, time-sortable id (a version-7 GUID), so ids listed in order read in enqueue order.</summary>
    public static string New() => Guid.CreateVersion7().ToString();

    /// <summary>A new id stamped with <paramref name="at"/>; ids of later instants sort after it.</summary>
    public static string New(DateTimeOffset at) => Guid.CreateVersion7(at).ToString();

    /// <summary>Ids that would read as the literal routes beside <c>/jobs/{id}</c>, refused in any letter case.</summary>
    public static IReadOnlyList<string> Reserved { get; } = ["counts", "bulk"];

    /// <summary>Null when <paramref name="id"/> is usable, else why not.</summary>
    public static string? Validate(string? id)
    {
        if (string.IsNullOrEmpty(id))
        {
            return "must not be empty.";
        }

        if (id.Length > MaxLength)
        {
            return $"must be at most {MaxLength} characters.";
        }

        if (id is "." or ".." || Reserved.Contains(id, StringComparer.OrdinalIgnoreCase))
        {
            // /jobs/counts and /jobs/bulk are routes of their own, and . and .. are path segments.
            return $"must not be '{id}' (reserved: {string.Join(", ", Reserved)}, ., ..).";
        }

        return id.AsSpan().ContainsAnyExcept(Allowed)
            ? "may contain only letters, digits and . _ : -"
            : null;
    }
}
