namespace OrleansTasks.Jobs;

/// <summary>
/// Names the job type a payload record belongs to, so a client can enqueue it with a typed call
/// (<c>jobs.EnqueueAsync(new SendWelcomeEmail(email))</c>) and the silo knows which handler runs it.
/// </summary>
/// <param name="name">The registered snake_case name, e.g. <c>send_welcome_email</c>.</param>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class JobTypeAttribute(string name) : Attribute
{
    /// <summary>The registered job type name.</summary>
    public string Name { get; } = name;

    /// <summary>The name on <typeparamref name="TPayload"/>'s attribute; throws when it has none.</summary>
    public static string NameOf<TPayload>() => NameOf(typeof(TPayload));

    /// <summary>The name on <paramref name="payloadType"/>'s attribute; throws when it has none.</summary>
    public static string NameOf(Type payloadType) =>
        payloadType.GetCustomAttributes(typeof(JobTypeAttribute), inherit: false) is [JobTypeAttribute attribute, ..]
            ? attribute.Name
            : throw new InvalidOperationException($"{payloadType.Name} has no [JobType(\"...\")] attribute naming its job type.");
}
