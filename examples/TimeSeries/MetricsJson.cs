using ExampleSupport;

namespace TimeSeries;

/// <summary>
/// The run's results as one JSON object with snake_case keys, for scripts and tests. EpochsRun counts passes
/// over the rows trained on; BestEpoch is the epoch whose weights were kept (the best validation loss, or
/// the last epoch without validation); ValidationLoss/ValidationAccuracy are the kept weights', null
/// without validation. MinLength/MaxLength are in time steps over both files, before folding.
/// </summary>
internal sealed record MetricsJson(
    double MicroAccuracy,
    double MacroAccuracy,
    double LogLoss,
    long TrainCount,
    long TestCount,
    string[] Classes,
    int Channels,
    int MinLength,
    int MaxLength,
    double EpochsRun,
    double BestEpoch,
    double? ValidationLoss,
    double? ValidationAccuracy,
    bool StoppedEarly,
    double TrainSeconds,
    double ReloadedMicroAccuracy,
    string ModelPath,
    string PlotPath,
    int ValuesPerStep,
    int HiddenSize,
    double Dropout,
    int BatchSize,
    int MaxEpochs,
    int? Patience,
    double? ValidationFraction,
    int Seed,
    double[] PerClassPrecision,
    double[] PerClassRecall,
    double[][] ConfusionMatrix,
    string? OnnxPath = null,
    double? OnnxMaxScoreDifference = null,
    int? OnnxKeysDiffering = null)
{
    public void Write(string path) => JsonReport.Write(path, this);
}
