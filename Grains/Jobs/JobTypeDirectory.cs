using Orleans.Placement;
using Orleans.Runtime.Placement;
using Orleans.Runtime.MembershipService.SiloMetadata;

namespace OrleansTasks.Jobs;

/// <summary>
/// Which silos of the cluster can run which job types. Every silo publishes the names of its registered types in
/// its Orleans silo metadata; during a rolling deploy a job that lands on a silo without its type is validated by,
/// and moved to, a silo that has it, rather than being refused or failed.
/// </summary>
public sealed class JobTypeDirectory(IClusterMembershipService membership, ISiloMetadataCache metadata, ILocalSiloDetails local)
{
    /// <summary>Silo metadata key holding the silo's job type names, comma-separated.</summary>
    public const string MetadataKey = "orleanstasks.job-types";

    /// <summary>The metadata value a silo with <paramref name="registry"/> publishes.</summary>
    public static string Publish(JobTypeRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        return string.Join(',', registry.All.Select(t => t.Name));
    }

    /// <summary>A random other active silo that has <paramref name="type"/> registered, or null when none has.</summary>
    public SiloAddress? PickSiloFor(string type)
    {
        var silos = OtherActiveSilos().Where(s => TypesOf(s).Contains(type, StringComparer.Ordinal)).ToList();
        return silos.Count == 0 ? null : silos[Random.Shared.Next(silos.Count)];
    }

    /// <summary>
    /// Checks <paramref name="request"/> against this silo's job types or, when this silo does not have the type (a
    /// rolling deploy), on a silo that has it.
    /// </summary>
    public Task<JobRequestCheck> CheckAsync(JobTypeRegistry registry, IGrainFactory grains, EnqueueRequest request, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(grains);
        ArgumentNullException.ThrowIfNull(request);
        if (registry.TryGet(request.Type ?? string.Empty, out _) || PickSiloFor(request.Type ?? string.Empty) is not { } silo)
        {
            return Task.FromResult(JobRequestCheck.Of(registry, request, now, TypesElsewhere()));
        }

        RequestContext.Set(IPlacementDirector.PlacementHintKey, silo);
        try
        {
            return grains.GetGrain<IJobTypeValidatorGrain>($"{silo.ToParsableString()}").CheckAsync(request, now);
        }
        finally
        {
            RequestContext.Remove(IPlacementDirector.PlacementHintKey);
        }
    }

    /// <summary>Silo metadata key holding the features the silo's release knows (<see cref="JobFeatures"/>), comma-separated.</summary>
    public const string FeaturesKey = "orleanstasks.features";

    /// <summary>The active silos (this one included) whose metadata does not advertise every one of <paramref name="features"/>.</summary>
    public IReadOnlyList<string> SilosLacking(IReadOnlyList<string> features)
    {
        ArgumentNullException.ThrowIfNull(features);
        if (features.Count == 0)
        {
            return [];
        }

        return [.. membership.CurrentSnapshot.Members.Values.Where(m => m.Status == SiloStatus.Active).Select(m => m.SiloAddress)
            .Where(s => !metadata.GetSiloMetadata(s).Metadata.TryGetValue(FeaturesKey, out var known)
                || features.Except(known.Split(','), StringComparer.Ordinal).Any())
            .Select(s => s.ToString())];
    }

    /// <summary>Every job type name some other active silo has registered.</summary>
    public IEnumerable<string> TypesElsewhere() => OtherActiveSilos().SelectMany(TypesOf).Distinct(StringComparer.Ordinal);

    private IEnumerable<SiloAddress> OtherActiveSilos() => membership.CurrentSnapshot.Members.Values
        .Where(m => m.Status == SiloStatus.Active && !m.SiloAddress.Equals(local.SiloAddress))
        .Select(m => m.SiloAddress);

    private string[] TypesOf(SiloAddress silo) =>
        metadata.GetSiloMetadata(silo).Metadata.TryGetValue(MetadataKey, out var types) && types.Length > 0 ? types.Split(',') : [];
}

/// <summary>The features this silo advertises in its metadata (<see cref="JobFeatures.All"/>; a test stands in for an older release with fewer).</summary>
public sealed record AdvertisedFeatures(IReadOnlyList<string> Names);

/// <summary>The outcome of checking an enqueue against a job type's registration.</summary>
/// <param name="Type">The job type name.</param>
/// <param name="CanonicalPayload">The payload in its canonical JSON form, when valid.</param>
/// <param name="Policy">The merged retry and timeout policy, when valid.</param>
/// <param name="Errors">Field errors keyed by camelCase field name; empty when the request is valid.</param>
[GenerateSerializer, Immutable, Alias("OrleansTasks.JobRequestCheck")]
public sealed record JobRequestCheck(
    [property: Id(0)] string Type,
    [property: Id(1)] string? CanonicalPayload,
    [property: Id(2)] JobPolicy? Policy,
    [property: Id(3)] IReadOnlyDictionary<string, string[]> Errors)
{
    /// <summary>The callback URL the job gets: the enqueue's own, else its type's default; null for none.</summary>
    [Id(4)] public string? CallbackUrl { get; init; }

    /// <summary>Checks <paramref name="request"/> against this silo's <paramref name="registry"/> at <paramref name="now"/>.</summary>
    public static JobRequestCheck Of(JobTypeRegistry registry, EnqueueRequest request, DateTimeOffset now, IEnumerable<string>? typesElsewhere = null)
    {
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(request);
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        if (!registry.TryGet(request.Type ?? string.Empty, out var definition))
        {
            var known = registry.All.Select(t => t.Name).Concat(typesElsewhere ?? []).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal);
            errors["type"] = [$"'{request.Type}' is not a registered job type. Known types: {string.Join(", ", known)}."];
            return new(request.Type ?? string.Empty, null, null, errors);
        }

        var (payload, payloadErrors) = PayloadValidator.Validate(definition.PayloadType, request.PayloadJson ?? string.Empty);
        var policy = definition.Defaults.With(request.Options);
        foreach (var problems in new[] { payloadErrors, policy.Validate(), request.Options.ValidateSchedule(now) })
        {
            foreach (var (field, messages) in problems)
            {
                errors[field] = messages;
            }
        }

        return new(definition.Name, payload, policy, errors) { CallbackUrl = request.Options.CallbackUrl ?? definition.DefaultCallbackUrl };
    }
}

/// <summary>Checks enqueues for a job type on a silo that has it, for job grains placed on a silo that has not.</summary>
[Alias("OrleansTasks.IJobTypeValidatorGrain")]
public interface IJobTypeValidatorGrain : IGrainWithStringKey
{
    /// <summary>The check of <paramref name="request"/> at <paramref name="now"/> on this grain's silo.</summary>
    [Alias("Check")]
    Task<JobRequestCheck> CheckAsync(EnqueueRequest request, DateTimeOffset now);
}

/// <summary>
/// Placed by the caller's placement hint on a silo that has the type, and keyed by that silo, so each activation
/// checks against a registry that knows the type.
/// </summary>
[RandomPlacement]
[GrainType("job-type-validator")]
public sealed class JobTypeValidatorGrain(JobTypeRegistry registry) : Grain, IJobTypeValidatorGrain
{
    public Task<JobRequestCheck> CheckAsync(EnqueueRequest request, DateTimeOffset now) =>
        Task.FromResult(JobRequestCheck.Of(registry, request, now));
}
