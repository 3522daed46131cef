using System.Text.Json;
using System.Text.Json.Serialization;

namespace MnistLstm;

/// <summary>The run's results as one JSON object with snake_case keys, for scripts and tests.</summary>
public sealed record MetricsJson(
    double MicroAccuracy,
    double MacroAccuracy,
    double LogLoss,
    double LogLossReduction,
    long TrainCount,
    long TestCount,
    long TrainingSamples,
    double TrainSeconds,
    double SamplesPerSecond,
    double ReloadedMicroAccuracy,
    string ModelPath,
    string PlotPath,
    int Seed,
    int Hidden,
    int BatchSize,
    double LearningRate,
    string[] Classes,
    double[] PerClassPrecision,
    double[] PerClassRecall,
    double[][] ConfusionMatrix)
{
    private static readonly JsonSerializerOptions Format = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        // A degenerate run can give NaN or infinite log-loss; write it rather than fail.
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public void Write(string path) => File.WriteAllText(path, JsonSerializer.Serialize(this, Format));
}
