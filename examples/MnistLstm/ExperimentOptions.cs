using System.CommandLine;
using ExampleSupport;
using MlNetLstm;
using static ExampleSupport.CommandLineOptions;

namespace MnistLstm;

/// <summary>The command line, parsed: what to train on, how, and where to write the results.</summary>
public sealed record ExperimentOptions
{
    /// <summary>The shipped digits, copied next to the app by the project file.</summary>
    public static string DefaultDataFolder => AppPaths.BesideApp("mnist");

    public required string DataFolder { get; init; }
    public required long TrainingIters { get; init; }
    public required int BatchSize { get; init; }
    public required double LearningRate { get; init; }
    public required int Hidden { get; init; }
    public required int DisplayStep { get; init; }
    public required int Seed { get; init; }
    public required string ModelPath { get; init; }
    public required string PlotPath { get; init; }
    public string? MetricsJsonPath { get; init; }

    /// <summary>
    /// Parses <paramref name="args"/>. Returns null when the program should stop: after printing
    /// help (exit code 0) or a one-line error on stderr (exit code 2).
    /// </summary>
    public static ExperimentOptions? Parse(string[] args, out int exitCode)
    {
        // Defaults come from the library, so the example always matches the reference settings.
        var defaults = new LstmClassifierOptions();
        var data = Create("--data", "DIR", "Folder with the four MNIST IDX files (.gz or not)", DefaultDataFolder);
        var iters = Positive(Create("--training-iters", "N", "Training samples to consume", LstmClassifierOptions.DefaultTrainingSamples));
        var batch = Positive(Create("--batch-size", "N", "Rows per training batch", defaults.BatchSize));
        var rate = Positive(Create("--learning-rate", "X", "Adam learning rate", defaults.LearningRate));
        var hidden = Positive(Create("--hidden", "N", "LSTM hidden units", defaults.HiddenSize));
        var display = Positive(Create("--display-step", "N", "Report progress every N batches", defaults.DisplayStep));
        var seed = Create("--seed", "N", "Seed of the MLContext; the same seed gives the same run", 1);
        var model = Create("--model", "PATH", "Model zip to write", Path.Combine(AppPaths.DefaultOutputFolder, "mnist-lstm.zip"));
        var plot = Create("--plot", "PATH", "PNG of the training curves and confusion matrix", Path.Combine(AppPaths.DefaultOutputFolder, "mnist-lstm.png"));
        var json = new Option<string?>("--metrics-json") { HelpName = "PATH", Description = "Also write the metrics as one JSON object to this file" };

        var root = new RootCommand("Trains an LSTM on MNIST digits (28 rows of 28 pixels) in an ML.NET pipeline, evaluates, saves and reloads it.")
        {
            data, iters, batch, rate, hidden, display, seed, model, plot, json,
        };
        if (CommandLineOptions.Parse(root, args, out exitCode) is not ParseResult result)
            return null;
        return new ExperimentOptions
        {
            DataFolder = result.GetValue(data)!,
            TrainingIters = result.GetValue(iters),
            BatchSize = result.GetValue(batch),
            LearningRate = result.GetValue(rate),
            Hidden = result.GetValue(hidden),
            DisplayStep = result.GetValue(display),
            Seed = result.GetValue(seed),
            ModelPath = Path.GetFullPath(result.GetValue(model)!),
            PlotPath = Path.GetFullPath(result.GetValue(plot)!),
            MetricsJsonPath = result.GetValue(json) is string path ? Path.GetFullPath(path) : null,
        };
    }
}
