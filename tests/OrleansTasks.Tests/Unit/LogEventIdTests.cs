using System.Reflection;
using Microsoft.Extensions.Logging;
using OrleansTasks.Hosting;
using OrleansTasks.Jobs;
using OrleansTasks.Silo;

namespace OrleansTasks.Tests.Unit;

/// <summary>
/// An operator filters and alerts on event ids, so one id must mean one log line across every process: two lines
/// sharing an id would hide one behind the other.
/// </summary>
public sealed class LogEventIdTests
{
    private static readonly Assembly[] Products =
    [
        typeof(JobsOptions).Assembly,
        typeof(ClusterSettings).Assembly,
        typeof(Program).Assembly,
        typeof(SiloHost).Assembly,
    ];

    [Fact]
    public void EveryLoggerMessageEventIdIsUsedByOneMethodOnly()
    {
        var messages = Products
            .SelectMany(assembly => assembly.GetTypes())
            .SelectMany(type => type.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly))
            .Select(method => (Method: method, Attribute: method.GetCustomAttribute<LoggerMessageAttribute>()))
            .Where(m => m.Attribute is { EventId: >= 0 })
            .ToList();
        Assert.NotEmpty(messages);

        var duplicates = messages
            .GroupBy(m => m.Attribute!.EventId)
            .Where(g => g.Count() > 1)
            .Select(g => $"{g.Key}: {string.Join(" and ", g.Select(m => $"{m.Method.DeclaringType!.FullName}.{m.Method.Name}"))}")
            .ToList();
        Assert.True(duplicates.Count == 0, "LoggerMessage event ids used more than once: " + string.Join("; ", duplicates));
    }
}
