using ExampleSupport;

namespace MnistLstm;

/// <summary>
/// The run's results as one JSON object with snake_case keys, for scripts and tests. EpochsRun counts passes
/// over the rows trained on (fractional: batches are always full); BestEpoch is the epoch whose weights were
/// kept — the best validation loss, or the last epoch without validation; ValidationLoss and
/// ValidationAccuracy are those of the kept weights, null without validation.
/// </summary>
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
    double EpochsRun,
    double BestEpoch,
    double? ValidationLoss,
    double? ValidationAccuracy,
    bool StoppedEarly,
    string[] Classes,
    double[] PerClassPrecision,
    double[] PerClassRecall,
    double[][] ConfusionMatrix,
    string? OnnxPath = null,
    double? OnnxMaxScoreDifference = null,
    int? OnnxKeysDiffering = null)
{
    public void Write(string path) => JsonReport.Write(path, this);
}
