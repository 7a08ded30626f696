namespace OrleansTasks.Tests.Infrastructure;

/// <summary>Where the repository is, for tests that read its files or run its scripts.</summary>
public static class RepoPaths
{
    public static string Root { get; } = FindRoot();

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "OrleansTasks.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("OrleansTasks.sln not found above the test binaries.");
    }
}
