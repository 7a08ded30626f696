using System.Collections;
using System.ComponentModel;
using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace OrleansTasks.Hosting;

/// <summary>
/// Binds an options class from its configuration section, the one way every process here does it. A setting that
/// holds several values (a collection of strings) takes the list form (<c>Webhooks:AllowedHosts:0</c>, which an
/// appsettings.json array and <c>Webhooks__AllowedHosts__0</c> write) and the comma form
/// (<c>Webhooks:AllowedHosts=a,b</c>) alike. A value the binder cannot take fails start-up with an
/// <see cref="OptionsValidationException"/> naming its key, as <see cref="ClusterSettings"/> does for its own checks.
/// </summary>
public static class OptionsBinding
{
    /// <summary>What separates the values of a setting given in the comma form.</summary>
    public static IReadOnlyList<char> ListSeparators { get; } = [',', ';'];

    /// <summary>
    /// <see cref="OptionsBuilderConfigurationExtensions.BindConfiguration{TOptions}"/> with this class's list forms
    /// and errors: the options of <paramref name="sectionPath"/> (reloaded with it, as there).
    /// </summary>
    public static OptionsBuilder<TOptions> BindSection<TOptions>(this OptionsBuilder<TOptions> builder, string sectionPath)
        where TOptions : class
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(sectionPath);
        builder.Configure<IConfiguration>((options, configuration) => Bind(configuration.GetSection(sectionPath), options));
        builder.Services.AddSingleton<IOptionsChangeTokenSource<TOptions>>(sp =>
            new ConfigurationChangeTokenSource<TOptions>(builder.Name, sp.GetRequiredService<IConfiguration>().GetSection(sectionPath)));
        return builder;
    }

    /// <summary>A new <typeparamref name="TOptions"/> bound from <paramref name="sectionPath"/>, for settings read before the host is built.</summary>
    /// <exception cref="OptionsValidationException">A value cannot be bound; the message names its key.</exception>
    public static TOptions Get<TOptions>(IConfiguration configuration, string sectionPath)
        where TOptions : class, new()
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var options = new TOptions();
        Bind(configuration.GetSection(sectionPath), options);
        return options;
    }

    /// <summary>Binds <paramref name="section"/> into <paramref name="options"/>, then adds the comma form's values to its string lists.</summary>
    /// <exception cref="OptionsValidationException">A value cannot be bound; the message names its key.</exception>
    public static void Bind(IConfigurationSection section, object options)
    {
        ArgumentNullException.ThrowIfNull(section);
        ArgumentNullException.ThrowIfNull(options);
        try
        {
            section.Bind(options);
        }
        catch (InvalidOperationException ex)
        {
            // The binder's messages do not always name the key (a string given as a list says only "Cannot create
            // instance of type 'System.String'"), and its stack trace tells an operator nothing.
            var failing = FailingSetting(section, options.GetType()) is { } found ? Culprit(section, found, options.GetType()) : section;
            var (key, value) = (failing.Path, failing.Value);
            var detail = ex.InnerException?.Message ?? ex.Message;
            var problem = value is null
                ? $"{key} cannot be bound: it is given as a list or section where a single value is expected ({detail})"
                : $"{key} cannot be bound from '{value}': {detail}";
            throw new OptionsValidationException(section.Path, options.GetType(), [problem]);
        }

        AddCommaSeparated(section, options);
    }

    /// <summary>
    /// The deepest setting under <paramref name="section"/> whose subtree alone fails to bind into a fresh
    /// <paramref name="type"/>; null when none does alone (or the type cannot be made).
    /// </summary>
    private static IConfigurationSection? FailingSetting(IConfigurationSection section, Type type)
    {
        var failing = section.GetChildren().FirstOrDefault(child => Fails(child, section.Path, type));
        while (failing?.GetChildren().FirstOrDefault(child => Fails(child, section.Path, type)) is { } deeper)
        {
            failing = deeper;
        }

        return failing;
    }

    /// <summary>
    /// The first setting on the way to <paramref name="failing"/> that holds a section (a list) where its property takes
    /// a single value: the whole list is then the mistake, not its first item. Else <paramref name="failing"/>.
    /// </summary>
    private static IConfigurationSection Culprit(IConfigurationSection root, IConfigurationSection failing, Type type)
    {
        var segments = failing.Path[(root.Path.Length + 1)..].Split(ConfigurationPath.KeyDelimiter);
        var (current, memberType) = (root, (Type?)type);
        foreach (var segment in segments[..^1])
        {
            current = current.GetSection(segment);
            memberType = memberType is null ? null : MemberType(memberType, segment);
            if (memberType is not null && TypeDescriptor.GetConverter(memberType).CanConvertFrom(typeof(string)))
            {
                return current;
            }
        }

        return failing;
    }

    /// <summary>The type of <paramref name="type"/>'s property named <paramref name="segment"/>, or of its items when it is a collection.</summary>
    private static Type? MemberType(Type type, string segment) =>
        type.GetProperty(segment, BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase)?.PropertyType
        ?? (type.IsArray ? type.GetElementType() : type.GetInterfaces().Append(type)
            .FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IEnumerable<>))?.GetGenericArguments()[0]);

    private static bool Fails(IConfigurationSection subtree, string root, Type type)
    {
        object instance;
        try
        {
            instance = Activator.CreateInstance(type)!;
        }
        catch (MissingMethodException)
        {
            return false;
        }

        // Only the values: an explicit null entry for a section makes the binder read it differently from the real one.
        var alone = new ConfigurationBuilder().AddInMemoryCollection(subtree.AsEnumerable().Where(setting => setting.Value is not null)).Build();
        try
        {
            alone.GetSection(root).Bind(instance);
            return false;
        }
        catch (InvalidOperationException)
        {
            return true;
        }
    }

    /// <summary>
    /// The binder fills a string list from the list form only and silently ignores a single value; here that value's
    /// comma-separated parts are added, in every options class and in the objects and lists of objects it holds.
    /// </summary>
    private static void AddCommaSeparated(IConfiguration section, object target)
    {
        foreach (var property in target.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.GetIndexParameters().Length > 0 || section.GetSection(property.Name) is not { } child || !child.Exists())
            {
                continue;
            }

            switch (property.GetValue(target))
            {
                case ICollection<string> { IsReadOnly: false } list:
                    if (child.Value is { } single && !child.GetChildren().Any())
                    {
                        foreach (var item in single.Split([.. ListSeparators], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                        {
                            list.Add(item);
                        }
                    }

                    break;
                case IEnumerable items and not string when IsOwn(property.PropertyType.GetGenericArguments().FirstOrDefault()):
                    // A list of objects (Api:Keys) holds them in the order of the section's children.
                    foreach (var (item, itemSection) in items.Cast<object>().Zip(child.GetChildren()))
                    {
                        AddCommaSeparated(itemSection, item);
                    }

                    break;
                case { } nested when IsOwn(property.PropertyType):
                    AddCommaSeparated(child, nested);
                    break;
            }
        }
    }

    /// <summary>Only this solution's option classes are walked, never framework types they may expose.</summary>
    private static bool IsOwn(Type? type) =>
        type is { IsClass: true } && type.Assembly.GetName().Name?.StartsWith("OrleansTasks", StringComparison.Ordinal) == true;
}
