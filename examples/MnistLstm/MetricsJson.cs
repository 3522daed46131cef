using ExampleSupport;

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
    public void Write(string path) => JsonReport.Write(path, this);
}
