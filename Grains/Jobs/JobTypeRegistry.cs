using System.Collections.Frozen;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;

namespace OrleansTasks.Jobs;

/// <summary>Defaults of one job type, set where it is registered (Dramatiq's <c>@actor(max_retries=..., ...)</c>).</summary>
public sealed class JobTypeOptions
{
    /// <summary>Default 20.</summary>
    public int MaxRetries { get; set; } = JobPolicy.Default.MaxRetries;

    /// <summary>Default 15 seconds.</summary>
    public TimeSpan MinBackoff { get; set; } = JobPolicy.Default.MinBackoff;

    /// <summary>Default 7 days.</summary>
    public TimeSpan MaxBackoff { get; set; } = JobPolicy.Default.MaxBackoff;

    /// <summary>Default 10 minutes.</summary>
    public TimeSpan Timeout { get; set; } = JobPolicy.Default.Timeout;

    /// <summary>Exception types (and their subclasses) that fail the job at once instead of being retried.</summary>
    public List<Type> NonRetryableExceptions { get; } = [];

    /// <summary>
    /// How long this type's succeeded jobs are kept, overriding <c>Jobs:Retention:Succeeded</c>;
    /// <see cref="Timeout.InfiniteTimeSpan"/> keeps them for ever. Default: the setting.
    /// </summary>
    public TimeSpan? RetainSucceeded { get; set; }

    /// <summary>As <see cref="RetainSucceeded"/>, for cancelled jobs.</summary>
    public TimeSpan? RetainCancelled { get; set; }

    /// <summary>As <see cref="RetainSucceeded"/>, for failed jobs.</summary>
    public TimeSpan? RetainFailed { get; set; }

    /// <summary>
    /// Where this type's jobs POST their outcome when they finish, unless the enqueue names its own
    /// <see cref="JobOptions.CallbackUrl"/> (needs <c>Webhooks:Secret</c>). Default: none.
    /// </summary>
    public string? CallbackUrl { get; set; }

    /// <summary>Adds <typeparamref name="TException"/> to <see cref="NonRetryableExceptions"/>.</summary>
    public JobTypeOptions DoNotRetryOn<TException>() where TException : Exception
    {
        NonRetryableExceptions.Add(typeof(TException));
        return this;
    }

    internal JobPolicy ToPolicy() => new(MaxRetries, MinBackoff, MaxBackoff, Timeout);

    internal JobTypeRetention ToRetention() => new(RetainSucceeded, RetainCancelled, RetainFailed);
}

/// <summary>A registered job type: how to validate its payload and how to run it.</summary>
public sealed class JobTypeDefinition
{
    internal JobTypeDefinition(string name, Type payloadType, JobPolicy defaults, IReadOnlyList<Type> nonRetryable,
        Func<IServiceProvider, object, JobContext, CancellationToken, Task<string>> execute, JobTypeRetention? retention = null,
        string? defaultCallbackUrl = null)
    {
        Retention = retention ?? JobTypeRetention.Inherit;
        DefaultCallbackUrl = defaultCallbackUrl;
        Name = name;
        PayloadType = payloadType;
        Defaults = defaults;
        NonRetryableExceptions = nonRetryable;
        Execute = execute;
    }

    public string Name { get; }
    public Type PayloadType { get; }
    public JobPolicy Defaults { get; }
    public IReadOnlyList<Type> NonRetryableExceptions { get; }

    /// <summary>This type's own retention periods (null members inherit <c>Jobs:Retention</c>).</summary>
    public JobTypeRetention Retention { get; }

    /// <summary>Where this type's jobs POST their outcome unless the enqueue names its own; null for none.</summary>
    public string? DefaultCallbackUrl { get; }

    /// <summary>Creates the handler, runs it on the deserialized payload and returns the result as JSON.</summary>
    internal Func<IServiceProvider, object, JobContext, CancellationToken, Task<string>> Execute { get; }

    /// <summary>True when <paramref name="exception"/> must fail the job without retries.</summary>
    public bool IsPermanent(Exception exception) =>
        exception is PermanentJobFailureException
        || NonRetryableExceptions.Any(type => type.IsInstanceOfType(exception));

    /// <summary>Parses a payload already accepted at enqueue.</summary>
    public object DeserializePayload(string payloadJson) =>
        JsonSerializer.Deserialize(payloadJson, PayloadType, JobJson.Options)
        ?? throw new JsonException("The payload is null.");

    public JobTypeInfo ToInfo() => new(Name, PayloadType.Name, Defaults);
}

/// <summary>Collects job types at start-up: <c>jobs.Add&lt;SendWelcomeEmailHandler&gt;(o =&gt; o.MaxRetries = 3)</c>.</summary>
public sealed class JobTypeRegistryBuilder(IServiceCollection services)
{
    private readonly Dictionary<string, JobTypeDefinition> _types = new(StringComparer.Ordinal);
    private readonly List<(string Id, Schedules.ScheduleDefinition Definition)> _schedules = [];

    /// <summary>The silo's services, for job types that bring options or dependencies of their own.</summary>
    public IServiceCollection Services { get; } = services;

    /// <summary>
    /// Registers <typeparamref name="THandler"/>, which implements <see cref="IJobHandler{TPayload, TResult}"/>; the
    /// job type's name comes from the payload's <see cref="JobTypeAttribute"/>.
    /// </summary>
    public JobTypeRegistryBuilder Add<THandler>(Action<JobTypeOptions>? configure = null) where THandler : class
    {
        var handlerInterface = typeof(THandler).GetInterfaces()
            .SingleOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IJobHandler<,>))
            ?? throw new InvalidOperationException($"{typeof(THandler).Name} must implement IJobHandler<TPayload, TResult> exactly once.");
        var arguments = handlerInterface.GetGenericArguments();
        var adapter = (IHandlerAdapter)Activator.CreateInstance(
            typeof(HandlerAdapter<,,>).MakeGenericType(typeof(THandler), arguments[0], arguments[1]))!;

        var options = new JobTypeOptions();
        configure?.Invoke(options);
        var policy = options.ToPolicy();
        var name = JobTypeAttribute.NameOf(arguments[0]);
        if (policy.Validate() is { Count: > 0 } errors)
        {
            throw new InvalidOperationException(
                $"Job type '{name}' has invalid defaults: {string.Join("; ", errors.Select(e => $"{e.Key} {string.Join(" ", e.Value)}"))}");
        }

        var retention = options.ToRetention();
        if (new[] { retention.Succeeded, retention.Cancelled, retention.Failed }.Any(p => p is { } period && period <= TimeSpan.Zero && period != Timeout.InfiniteTimeSpan))
        {
            throw new InvalidOperationException($"Job type '{name}' has a retention that is not positive (use Timeout.InfiniteTimeSpan to keep for ever).");
        }

        if (options.CallbackUrl is { } callbackUrl && Jobs.CallbackUrl.Validate(callbackUrl) is { } callbackProblem)
        {
            throw new InvalidOperationException($"Job type '{name}' has a callback URL that {callbackProblem}");
        }

        if (!_types.TryAdd(name, new JobTypeDefinition(name, arguments[0], policy, [.. options.NonRetryableExceptions], adapter.ExecuteAsync, retention, options.CallbackUrl)))
        {
            throw new InvalidOperationException($"Job type '{name}' is registered twice.");
        }

        return this;
    }

    /// <summary>
    /// Declares a recurring schedule: every silo upserts it at start-up (the same definition changes nothing; a
    /// changed one is applied once; a pause set through the API is kept; one deleted through the API stays deleted
    /// until this definition changes).
    /// </summary>
    public JobTypeRegistryBuilder AddSchedule(string id, Schedules.ScheduleDefinition definition)
    {
        ArgumentNullException.ThrowIfNull(definition);
        if (Schedules.ScheduleId.Validate(id) is { } problem)
        {
            throw new ArgumentException($"Schedule id {problem}", nameof(id));
        }

        if (_schedules.Exists(s => s.Id == id))
        {
            throw new InvalidOperationException($"Schedule '{id}' is declared twice.");
        }

        _schedules.Add((id, definition));
        return this;
    }

    internal Schedules.CodeSchedules BuildSchedules() => new([.. _schedules]);

    internal JobTypeRegistry Build() => new(_types.ToFrozenDictionary(StringComparer.Ordinal));

    private interface IHandlerAdapter
    {
        Task<string> ExecuteAsync(IServiceProvider services, object payload, JobContext context, CancellationToken cancellationToken);
    }

    private sealed class HandlerAdapter<THandler, TPayload, TResult> : IHandlerAdapter
        where THandler : class, IJobHandler<TPayload, TResult>
    {
        public async Task<string> ExecuteAsync(IServiceProvider services, object payload, JobContext context, CancellationToken cancellationToken)
        {
            // A scope and a fresh handler per attempt: scoped dependencies (an EF DbContext) are never shared by
            // concurrent attempts, and everything the attempt resolved is disposed with it.
            var scope = services.CreateAsyncScope();
            await using (scope.ConfigureAwait(false))
            {
                var handler = ActivatorUtilities.CreateInstance<THandler>(scope.ServiceProvider);
                try
                {
                    var result = await handler.HandleAsync((TPayload)payload, context, cancellationToken).ConfigureAwait(false);
                    return JobJson.Serialize(result);
                }
                finally
                {
                    // ActivatorUtilities does not hand the handler to the scope, so it is disposed here.
                    if (handler is IAsyncDisposable asyncDisposable)
                    {
                        await asyncDisposable.DisposeAsync().ConfigureAwait(false);
                    }
                    else
                    {
                        (handler as IDisposable)?.Dispose();
                    }
                }
            }
        }
    }
}

/// <summary>The job types this silo can run. Immutable after start-up.</summary>
public sealed class JobTypeRegistry(FrozenDictionary<string, JobTypeDefinition> types)
{
    public bool TryGet(string name, out JobTypeDefinition definition) => types.TryGetValue(name, out definition!);

    /// <summary>All types, sorted by name.</summary>
    public IReadOnlyList<JobTypeDefinition> All { get; } = [.. types.Values.OrderBy(t => t.Name, StringComparer.Ordinal)];
}
