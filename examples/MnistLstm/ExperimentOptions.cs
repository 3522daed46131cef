using System.CommandLine;
using System.CommandLine.Help;
using System.Globalization;
using System.Numerics;
using MlNetLstm;

namespace MnistLstm;

/// <summary>The command line, parsed: what to train on, how, and where to write the results.</summary>
public sealed record ExperimentOptions
{
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
        var data = Make("--data", "DIR", "Folder with the four MNIST IDX files (.gz or not)", AppPaths.DefaultDataFolder);
        var iters = Positive(Make("--training-iters", "N", "Training samples to consume", LstmClassifierOptions.DefaultTrainingSamples));
        var batch = Positive(Make("--batch-size", "N", "Rows per training batch", defaults.BatchSize));
        var rate = Positive(Make("--learning-rate", "X", "Adam learning rate", defaults.LearningRate));
        var hidden = Positive(Make("--hidden", "N", "LSTM hidden units", defaults.HiddenSize));
        var display = Positive(Make("--display-step", "N", "Report progress every N batches", defaults.DisplayStep));
        var seed = Make("--seed", "N", "Seed of the MLContext; the same seed gives the same run", 1);
        var model = Make("--model", "PATH", "Model zip to write", Path.Combine(AppPaths.DefaultOutputFolder, "mnist-lstm.zip"));
        var plot = Make("--plot", "PATH", "PNG of the training curves and confusion matrix", Path.Combine(AppPaths.DefaultOutputFolder, "mnist-lstm.png"));
        var json = new Option<string?>("--metrics-json") { HelpName = "PATH", Description = "Also write the metrics as one JSON object to this file" };

        var root = new RootCommand("Trains an LSTM on MNIST digits (28 rows of 28 pixels) in an ML.NET pipeline, evaluates, saves and reloads it.")
        {
            data, iters, batch, rate, hidden, display, seed, model, plot, json,
        };
        var result = root.Parse(args);
        if (result.Action is HelpAction)
        {
            exitCode = result.Invoke(new InvocationConfiguration { Output = Console.Out, Error = Console.Error });
            return null;
        }
        if (result.Errors.Count > 0)
        {
            Console.Error.WriteLine($"error: {result.Errors[0].Message} (see --help)");
            exitCode = 2;
            return null;
        }
        exitCode = 0;
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

    private static Option<T> Make<T>(string name, string helpName, string description, T defaultValue) =>
        new(name) { HelpName = helpName, Description = description, DefaultValueFactory = _ => defaultValue };

    /// <summary>Parses the option's value culture-invariantly and refuses zero, negative and non-finite values.</summary>
    private static Option<T> Positive<T>(Option<T> option) where T : INumber<T>
    {
        option.CustomParser = result =>
        {
            string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
            if (!T.TryParse(text, CultureInfo.InvariantCulture, out var value) || !(value > T.Zero) || !T.IsFinite(value))
                result.AddError($"{option.Name} must be a positive number, not '{text}'.");
            return value!;
        };
        return option;
    }
}
