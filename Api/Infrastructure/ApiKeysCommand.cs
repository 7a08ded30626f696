using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;

namespace OrleansTasks.Api.Infrastructure;

/// <summary>
/// <c>dotnet OrleansTasks.Api.dll keys new --name ci --scopes read,write [--index 0]</c>: makes a random key, prints
/// it once and the configuration lines that hold only its SHA-256. Runs instead of the web host, never with it.
/// </summary>
public static class ApiKeysCommand
{
    public const string Usage = "Usage: dotnet OrleansTasks.Api.dll keys new --name <name> --scopes <read,write,admin> [--index <i>]";

    public static bool Handles(string[] args) => args is ["keys", ..];

    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        if (args is not ["keys", "new", .. var rest])
        {
            error.WriteLine(Usage);
            return 2;
        }

        string? name = null;
        var scopes = new List<string>();
        var index = 0;
        for (var i = 0; i < rest.Length; i++)
        {
            var value = i + 1 < rest.Length ? rest[i + 1] : null;
            switch (rest[i])
            {
                case "--name" when value is not null:
                    name = value;
                    i++;
                    break;
                case "--scopes" when value is not null:
                    scopes.AddRange(value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
                    i++;
                    break;
                case "--index" when int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out index):
                    i++;
                    break;
                default:
                    error.WriteLine($"Unknown or incomplete argument '{rest[i]}'.");
                    error.WriteLine(Usage);
                    return 2;
            }
        }

        var normalized = scopes.Select(ApiKeyStore.NormalizeScope).ToList();
        if (string.IsNullOrWhiteSpace(name) || normalized.Count == 0 || normalized.Any(s => s is null))
        {
            error.WriteLine("A key needs a --name and one or more --scopes of read, write, admin.");
            error.WriteLine(Usage);
            return 2;
        }

        // 256 random bits, URL-safe so it fits a header unescaped; the prefix makes a leaked key easy to recognise.
        var key = "otk_" + Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
        var sha256 = Convert.ToHexStringLower(ApiKeyStore.Digest(key));
        var distinct = normalized.Distinct(StringComparer.Ordinal).ToList();

        output.WriteLine($"API key '{name}' (shown only now; the configuration below holds its SHA-256, never the key):");
        output.WriteLine(key);
        output.WriteLine();
        output.WriteLine("Environment (e.g. the .env file docker compose reads; index i must be unused by other keys):");
        output.WriteLine($"Api__Keys__{index}__Name={name}");
        output.WriteLine($"Api__Keys__{index}__Sha256={sha256}");
        for (var s = 0; s < distinct.Count; s++)
        {
            output.WriteLine($"Api__Keys__{index}__Scopes__{s}={distinct[s]}");
        }

        output.WriteLine();
        output.WriteLine("Or in appsettings.json, an element of \"Api\": { \"Keys\": [ ... ] }:");
        output.WriteLine(JsonSerializer.Serialize(new { Name = name, Sha256 = sha256, Scopes = distinct }));
        output.WriteLine();
        output.WriteLine($"Clients send it as 'Authorization: Bearer <key>' or '{ApiKeyAuthenticationHandler.KeyHeader}: <key>'.");
        return 0;
    }
}
