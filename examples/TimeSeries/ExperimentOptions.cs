using System.CommandLine;
using ExampleSupport;
using static ExampleSupport.CommandLineOptions;

namespace TimeSeries;

/// <summary>The command line, parsed: which problem, what to override of the settings chosen from the data, where to write.</summary>
internal sealed record ExperimentOptions
{
    /// <summary>The problem run without --train/--test: JapaneseVowels, shipped next to the app by the project file.</summary>
    public static string DefaultTrainPath => AppPaths.BesideApp(Path.Combine("ucr-uea", "JapaneseVowels_TRAIN.ts"));
    public static string DefaultTestPath => AppPaths.BesideApp(Path.Combine("ucr-uea", "JapaneseVowels_TEST.ts"));

    public required string TrainPath { get; init; }
    public required string TestPath { get; init; }
    public required int Seed { get; init; }
    /// <summary>Overrides of the settings chosen from the data; null means "choose from the data".</summary>
    public required TrainingOverrides Overrides { get; init; }
    /// <summary>Null: assets/outputs/&lt;problem&gt;-lstm.zip, named once the problem is known.</summary>
    public string? ModelPath { get; init; }
    public string? PlotPath { get; init; }
    public string? MetricsJsonPath { get; init; }
    /// <summary>Where --onnx writes the exported model, or null.</summary>
    public string? OnnxPath { get; init; }

    /// <summary>
    /// Parses <paramref name="args"/>. Returns null when the program should stop: after printing
    /// help (exit code 0) or a one-line error on stderr (exit code 2).
    /// </summary>
    public static ExperimentOptions? Parse(string[] args, out int exitCode)
    {
        var train = Create<string>("--train", "PATH", "Training file of a UCR/UEA classification problem (.ts, or .ts.gz) [default: the shipped JapaneseVowels_TRAIN.ts]");
        var test = Create<string>("--test", "PATH", "Its test file [default: the shipped JapaneseVowels_TEST.ts]");
        var epochs = Positive(Create<int>("--epochs", "N", "Most passes over the training rows [default: chosen from the data, see the rules above]"));
        var earlyStopping = Positive(Create<int>("--early-stopping", "PATIENCE",
            "Hold out rows for validation (even on small data) and stop after PATIENCE epochs without a better validation loss [default: chosen from the data, see the rules above]"));
        var noEarlyStopping = new Option<bool>("--no-early-stopping")
        {
            Description = "Hold nothing out, even on large data: train on every training row for all the epochs and keep the last weights",
        };
        var valuesPerStep = Positive(Create<int>("--values-per-step", "N",
            "Consecutive time steps read as one LSTM step [default: chosen from the series length, see the rules above]"));
        var hidden = Positive(Create<int>("--hidden", "N", "LSTM hidden units per direction [default: chosen from the data, see the rules above]"));
        var seed = Create("--seed", "N", "Seed of the MLContext: the hold-out, the initial weights and the shuffles; the same seed gives the same run", 1);
        var model = Create<string>("--model", "PATH", "Model zip to write [default: assets/outputs/<problem>-lstm.zip]");
        var plot = Create<string>("--plot", "PATH", "PNG of the training curves and confusion matrix [default: assets/outputs/<problem>-lstm.png]");
        var json = Create<string>("--metrics-json", "PATH", "Also write the results as one JSON object to this file");
        var onnx = Create<string>("--onnx", "PATH", "Also export the classifier to ONNX here, score the test set with ONNX Runtime and print the agreement with the library");

        var root = new RootCommand(Description)
        {
            train, test, epochs, earlyStopping, noEarlyStopping, valuesPerStep, hidden, seed, model, plot, json, onnx,
        };
        if (CommandLineOptions.Parse(root, args, out exitCode) is not ParseResult result)
            return null;
        if (result.IsGiven(train) != result.IsGiven(test))
            return Refuse<ExperimentOptions>("give both --train and --test, or neither (to run the shipped JapaneseVowels).", out exitCode);
        if (result.IsGiven(earlyStopping) && result.GetValue(noEarlyStopping))
            return Refuse<ExperimentOptions>("--early-stopping and --no-early-stopping contradict each other.", out exitCode);

        return new ExperimentOptions
        {
            TrainPath = result.GetValue(train) ?? DefaultTrainPath,
            TestPath = result.GetValue(test) ?? DefaultTestPath,
            Seed = result.GetValue(seed),
            Overrides = new TrainingOverrides(
                Epochs: result.ValueIfGiven(epochs),
                Patience: result.ValueIfGiven(earlyStopping),
                EarlyStopping: !result.GetValue(noEarlyStopping),
                ValuesPerStep: result.ValueIfGiven(valuesPerStep),
                HiddenSize: result.ValueIfGiven(hidden)),
            ModelPath = FullPathOrNull(result.GetValue(model)),
            PlotPath = FullPathOrNull(result.GetValue(plot)),
            MetricsJsonPath = FullPathOrNull(result.GetValue(json)),
            OnnxPath = FullPathOrNull(result.GetValue(onnx)),
        };
    }

    private static string? FullPathOrNull(string? path) => path is null ? null : Path.GetFullPath(path);

    private static string Description =>
        "Trains an LSTM classifier on a UCR/UEA time-series classification problem given as its two .ts files, in an ML.NET\n" +
        "pipeline; evaluates it on the test file, saves it, reloads it in a new MLContext and checks it, and plots the training.\n" +
        "\n" + TrainingPlan.RulesText;
}
