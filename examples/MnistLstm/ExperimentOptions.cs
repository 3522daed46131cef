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

    /// <summary>What --early-stopping holds out for validation when --validation-fraction does not say.</summary>
    public const double DefaultValidationFraction = 0.1;

    /// <summary>
    /// The starting learning rate with validation, unless --learning-rate says otherwise: five times the
    /// reference's, because the plateau schedule then lowers it (chosen once, on validation accuracy).
    /// </summary>
    public const double ValidatedLearningRate = 0.005;

    public required string DataFolder { get; init; }
    /// <summary>The budget in samples; null when <see cref="Epochs"/> gives it instead.</summary>
    public long? TrainingIters { get; init; }
    public int? Epochs { get; init; }
    public int? EarlyStoppingPatience { get; init; }
    /// <summary>Held-out fraction of the training images; null means no validation (the reference run).</summary>
    public double? ValidationFraction { get; init; }
    public required int BatchSize { get; init; }
    public required double LearningRate { get; init; }
    public required int Hidden { get; init; }
    /// <summary>Null: every 10 batches without validation, once per epoch with it.</summary>
    public int? DisplayStep { get; init; }
    public required int Seed { get; init; }
    public required string ModelPath { get; init; }
    public required string PlotPath { get; init; }
    public string? MetricsJsonPath { get; init; }
    /// <summary>Where --onnx writes the exported model, or null.</summary>
    public string? OnnxPath { get; init; }

    public bool Validates => ValidationFraction is not null;

    /// <summary>
    /// Parses <paramref name="args"/>. Returns null when the program should stop: after printing
    /// help (exit code 0) or a one-line error on stderr (exit code 2).
    /// </summary>
    public static ExperimentOptions? Parse(string[] args, out int exitCode)
    {
        // Defaults come from the library, so the example always matches the reference settings.
        var defaults = new LstmClassifierOptions();
        var data = Create("--data", "DIR", "Folder with the four MNIST IDX files (.gz or not)", DefaultDataFolder);
        var iters = Positive(Create("--training-iters", "N", "Training samples to consume (the reference's budget; not with --epochs)", LstmClassifierOptions.DefaultTrainingSamples));
        var epochs = Positive(Create<int>("--epochs", "N",
            "Train for N passes over the training images instead of --training-iters (at most N with --early-stopping)"));
        var earlyStopping = Positive(Create<int>("--early-stopping", "PATIENCE",
            "Hold out images for validation (--validation-fraction, default 0.1), check them once per epoch, stop after " +
            "PATIENCE epochs without a better validation loss and keep the best epoch's weights"));
        var validationFraction = Fraction(Create<double>("--validation-fraction", "X",
            "Hold out this fraction of the training images (stratified by digit) for validation; the best epoch's weights are kept"));
        var batch = Positive(Create("--batch-size", "N", "Rows per training batch", defaults.BatchSize));
        var rate = Positive(Create<double>("--learning-rate", "X",
            FormattableString.Invariant($"Adam learning rate [default: {defaults.LearningRate}; with validation: {ValidatedLearningRate}, halved on plateaus]")));
        var hidden = Positive(Create("--hidden", "N", "LSTM hidden units", defaults.HiddenSize));
        var display = Positive(Create<int>("--display-step", "N",
            $"Report progress every N batches [default: {defaults.DisplayStep}; with validation: once per epoch]"));
        var seed = Create("--seed", "N", "Seed of the MLContext; the same seed gives the same run", 1);
        var model = Create("--model", "PATH", "Model zip to write", Path.Combine(AppPaths.DefaultOutputFolder, "mnist-lstm.zip"));
        var plot = Create("--plot", "PATH", "PNG of the training curves and confusion matrix", Path.Combine(AppPaths.DefaultOutputFolder, "mnist-lstm.png"));
        var json = new Option<string?>("--metrics-json") { HelpName = "PATH", Description = "Also write the metrics as one JSON object to this file" };
        var onnx = new Option<string?>("--onnx") { HelpName = "PATH", Description = "Also export the classifier to ONNX here, score the test set with ONNX Runtime and print the agreement with the library" };

        var root = new RootCommand(
            "Trains an LSTM on MNIST digits (28 rows of 28 pixels) in an ML.NET pipeline, evaluates, saves and reloads it.\n" +
            "Without --epochs, --early-stopping or --validation-fraction it runs the reference: 100,000 training samples, no validation.\n" +
            "With validation (--early-stopping or --validation-fraction) the example trains differently, to make the most of each epoch:\n" +
            FormattableString.Invariant($"  - it validates once per epoch (DisplayStep = batches per epoch), so PATIENCE counts epochs;\n") +
            FormattableString.Invariant($"  - the learning rate starts at {ValidatedLearningRate} and is halved after {MnistExperiment.PlateauPatience} epochs without a better validation loss (ReduceOnPlateau);\n") +
            FormattableString.Invariant($"  - gradients are clipped to a global norm of {MnistExperiment.GradientClipNorm:0.0};\n") +
            "  - the weights of the epoch with the best validation loss are the ones kept, evaluated and saved.")
        {
            data, iters, epochs, earlyStopping, validationFraction, batch, rate, hidden, display, seed, model, plot, json, onnx,
        };
        if (CommandLineOptions.Parse(root, args, out exitCode) is not ParseResult result)
            return null;
        if (result.IsGiven(epochs) && result.IsGiven(iters))
            return Refuse<ExperimentOptions>("give either --epochs or --training-iters, not both.", out exitCode);

        int? patience = result.ValueIfGiven(earlyStopping);
        double? fraction = result.ValueIfGiven(validationFraction) ?? (patience is null ? null : DefaultValidationFraction);
        return new ExperimentOptions
        {
            DataFolder = result.GetValue(data)!,
            TrainingIters = result.IsGiven(epochs) ? null : result.GetValue(iters),
            Epochs = result.ValueIfGiven(epochs),
            EarlyStoppingPatience = patience,
            ValidationFraction = fraction,
            BatchSize = result.GetValue(batch),
            LearningRate = result.ValueIfGiven(rate) ?? (fraction is null ? defaults.LearningRate : ValidatedLearningRate),
            Hidden = result.GetValue(hidden),
            DisplayStep = result.ValueIfGiven(display),
            Seed = result.GetValue(seed),
            ModelPath = Path.GetFullPath(result.GetValue(model)!),
            PlotPath = Path.GetFullPath(result.GetValue(plot)!),
            MetricsJsonPath = result.GetValue(json) is string path ? Path.GetFullPath(path) : null,
            OnnxPath = result.GetValue(onnx) is string onnxPath ? Path.GetFullPath(onnxPath) : null,
        };
    }
}
