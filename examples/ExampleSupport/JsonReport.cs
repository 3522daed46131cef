using System.Text.Json;
using System.Text.Json.Serialization;

namespace ExampleSupport;

/// <summary>Writes an example's results as one JSON object with snake_case keys, for scripts and tests.</summary>
public static class JsonReport
{
    private static readonly JsonSerializerOptions Format = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        // A degenerate run can give NaN or infinite log-loss; write it rather than fail.
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        // Null values stay in the object: "validation_loss": null says there was no validation.
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    public static void Write<T>(string path, T report) => File.WriteAllText(path, JsonSerializer.Serialize(report, Format));
}
