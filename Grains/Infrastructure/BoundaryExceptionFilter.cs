using Microsoft.Extensions.Logging;
using OrleansTasks.Jobs;

namespace OrleansTasks.Infrastructure;

/// <summary>
/// Translates what our grains throw into exception types clients can load (<see cref="GrainBoundary"/>), logging the
/// original here on the silo. Calls to Orleans' own grains and system targets are left alone.
/// </summary>
public sealed partial class BoundaryExceptionFilter(ILogger<BoundaryExceptionFilter> logger) : IIncomingGrainCallFilter
{
    public Task Invoke(IIncomingGrainCallContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return context.InterfaceMethod?.DeclaringType?.Assembly == typeof(IJobGrain).Assembly ? InvokeGuardedAsync(context) : context.Invoke();
    }

    private async Task InvokeGuardedAsync(IIncomingGrainCallContext context)
    {
        try
        {
            await context.Invoke();
        }
        catch (Exception exception) when (GrainBoundary.ForClient(exception) is var translated && !ReferenceEquals(translated, exception))
        {
            LogTranslated(logger, exception, context.InterfaceName, context.MethodName, context.TargetId.ToString(), translated.GetType().Name);
            throw translated;
        }
    }

    [LoggerMessage(20, LogLevel.Warning, "{Interface}.{Method} on {Grain} failed with an exception clients cannot load; answered {Translated} instead")]
    private static partial void LogTranslated(ILogger logger, Exception exception, string @interface, string method, string grain, string translated);
}
