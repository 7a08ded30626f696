using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace OrleansTasks.Tests.Infrastructure;

/// <summary>One captured log line with its structured properties.</summary>
public sealed record CapturedLog(string Category, LogLevel Level, EventId EventId, string Message, IReadOnlyDictionary<string, object?> Properties)
{
    /// <summary>The exception logged with the line, if any (its text is part of what an operator's log shows).</summary>
    public Exception? Exception { get; init; }

    /// <summary>Everything this line would put in a log: message, property values and exception.</summary>
    public string FullText => string.Join('\n',
        Properties.Values.Select(v => v?.ToString() ?? string.Empty).Prepend(Message).Append(Exception?.ToString() ?? string.Empty));
}

/// <summary>Keeps every log entry of the silo in memory so tests can assert on lifecycle events.</summary>
public sealed class LogCapture : ILoggerProvider
{
    public ConcurrentQueue<CapturedLog> Entries { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, this);

    public void Dispose()
    {
    }

    private sealed class Logger(string category, LogCapture owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }

            var properties = state is IEnumerable<KeyValuePair<string, object?>> pairs
                ? pairs.ToDictionary(p => p.Key, p => p.Value)
                : new Dictionary<string, object?>();
            owner.Entries.Enqueue(new CapturedLog(category, logLevel, eventId, formatter(state, exception), properties) { Exception = exception });
        }
    }
}
