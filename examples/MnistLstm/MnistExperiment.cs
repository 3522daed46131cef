using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using ExampleSupport;
using MlNetLstm;
using static ExampleSupport.ConsoleOutput;

namespace MnistLstm;

/// <summary>
/// The whole example: load MNIST, train the LSTM in an ML.NET pipeline, evaluate it, save the model and
/// check that a fresh MLContext reloads it with the same accuracy, then write the plot (and JSON).
/// </summary>
public static class MnistExperiment
{
    private const int DigitsShown = 6;

    /// <summary>Runs everything on the calling thread; returns the process exit code.</summary>
    public static int Run(ExperimentOptions options)
    {
        var console = ConsoleOutput.Create();
        var files = MnistIdxFiles.InFolder(options.DataFolder);
        // Output folders now, so an unwritable path fails before training rather than after.
        foreach (var path in new[] { options.ModelPath, options.PlotPath, options.MetricsJsonPath, options.OnnxPath })
            if (path is not null)
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var mlContext = new MLContext(options.Seed);
        var train = mlContext.Data.LoadFromMnistIdx(files.TrainImages, files.TrainLabels);
        var test = mlContext.Data.LoadFromMnistIdx(files.TestImages, files.TestLabels);
        long trainCount = train.GetRowCount() ?? 0, testCount = test.GetRowCount() ?? 0;
        Say($"Data: {trainCount:N0} training and {testCount:N0} test images from {Path.GetFullPath(options.DataFolder)}");
        Say($"LSTM {options.Hidden} hidden units, Adam {options.LearningRate}, batch {options.BatchSize}, {Budget(options)}, seed {options.Seed}");
        if (options.ValidationFraction is double fraction)
            Say($"Validation: {fraction:P0} of the training images held out, checked once per epoch, best epoch kept{Stopping(options)}; learning rate halved after {PlateauPatience} epochs without a better validation loss, gradients clipped to norm {GradientClipNorm:0.0}");

        var display = new TrainingDisplay(console, live: IsInteractive);
        var clock = Stopwatch.StartNew();
        var model = display.Run(progress => Pipeline(mlContext, options, (int)trainCount, progress).Fit(train));
        using var ownedModel = model as IDisposable; // frees the network's native memory
        double trainSeconds = clock.Elapsed.TotalSeconds;
        var summary = Classifier(model).TrainingSummary!;
        long samples = summary.Batches * options.BatchSize;
        Say($"Optimization finished: {samples:N0} samples in {trainSeconds:F1} s ({samples / trainSeconds:N0} samples/s)");
        if (options.Validates)
            Say($"Training: {summary}");

        var scored = model.Transform(test);
        var metrics = mlContext.MulticlassClassification.Evaluate(scored);
        var classes = ClassNames(scored);
        MetricsTables.Write(console, metrics, classes, classHeader: "digit", countHeader: "test images");

        mlContext.Model.SaveAtomically(model, train.Schema, options.ModelPath);
        Say($"Model written to {options.ModelPath}");

        var (reloadedAccuracy, digits) = Reload(options, files);
        bool same = reloadedAccuracy == metrics.MicroAccuracy;
        Say($"Reloaded with a new MLContext: micro accuracy {reloadedAccuracy:F4} (trained model {metrics.MicroAccuracy:F4}) - {(same ? "same" : "DIFFERENT")}");
        AsciiDigits.Write(console, digits);

        TrainingPlot.Save(options.PlotPath, display.History, summary, metrics.MicroAccuracy,
            metrics.ConfusionMatrix.Counts, classes, classHeader: "digit");
        Say($"Plot written to {options.PlotPath}");

        var onnx = OnnxExportCheck.RunIfRequested(mlContext, model, test, options.OnnxPath);

        if (options.MetricsJsonPath is string jsonPath)
        {
            var matrix = metrics.ConfusionMatrix;
            new MetricsJson(metrics.MicroAccuracy, metrics.MacroAccuracy, metrics.LogLoss, metrics.LogLossReduction,
                trainCount, testCount, samples, trainSeconds, samples / trainSeconds, reloadedAccuracy,
                options.ModelPath, options.PlotPath, options.Seed, options.Hidden, options.BatchSize, options.LearningRate,
                summary.Epochs, summary.KeptEpoch, summary.BestValidationLoss, summary.BestValidationAccuracy, summary.StoppedEarly,
                classes, [.. matrix.PerClassPrecision], [.. matrix.PerClassRecall],
                [.. matrix.Counts.Select(row => row.ToArray())], onnx is null ? null : options.OnnxPath, onnx?.MaxScoreDifference, onnx?.KeysDiffering).Write(jsonPath);
            Say($"Metrics written to {jsonPath}");
        }

        return ChecksAfterTraining.ExitCode(same, onnx);
    }

    private static IEstimator<ITransformer> Pipeline(MLContext mlContext, ExperimentOptions options, int trainCount, IProgress<LstmTrainingProgress> progress) =>
        // Keys by value, so class k is digit k in the metrics and the confusion matrix.
        mlContext.Transforms.Conversion.MapValueToKey("Label", keyOrdinality: ValueToKeyMappingEstimator.KeyOrdinality.ByValue)
            .Append(mlContext.Transforms.LstmClassifier(ClassifierOptions(options, trainCount, progress)))
            .Append(mlContext.Transforms.Conversion.MapKeyToValue("PredictedLabel"));

    /// <summary>Validation evaluations (epochs) without a better loss before the learning rate is halved.</summary>
    public const int PlateauPatience = 2;

    /// <summary>The global gradient norm is clipped to this when training with validation (Keras' clipnorm).</summary>
    public const double GradientClipNorm = 1.0;

    private static LstmClassifierOptions ClassifierOptions(ExperimentOptions options, int trainCount, IProgress<LstmTrainingProgress> progress)
    {
        var classifier = new LstmClassifierOptions
        {
            HiddenSize = options.Hidden,
            LearningRate = options.LearningRate,
            BatchSize = options.BatchSize,
            TrainingSamples = options.TrainingIters,
            Epochs = options.Epochs,
            Progress = progress,
        };
        if (options.DisplayStep is int step)
            classifier.DisplayStep = step;
        if (options.ValidationFraction is double fraction)
        {
            classifier.ValidationFraction = fraction;
            classifier.EarlyStoppingPatience = options.EarlyStoppingPatience;
            // The library validates every DisplayStep batches when an epoch is longer than that, and once per
            // epoch otherwise: a step as long as an epoch over all training images makes it once per epoch, so
            // that patience counts epochs as --help says.
            if (options.DisplayStep is null)
                classifier.DisplayStep = (trainCount + options.BatchSize - 1) / options.BatchSize;
            // Validation makes a schedule possible: start at a higher rate (ExperimentOptions.ValidatedLearningRate),
            // halve it when the validation loss stalls, and clip the gradients so the higher rate stays stable.
            classifier.LearningRateSchedule = LearningRateSchedule.ReduceOnPlateau;
            classifier.LearningRatePatience = PlateauPatience;
            classifier.GradientClipNorm = GradientClipNorm;
        }
        return classifier;
    }

    private static string Budget(ExperimentOptions options) =>
        options.Epochs is int epochs ? FormattableString.Invariant($"{epochs} epochs") : FormattableString.Invariant($"{options.TrainingIters:N0} training samples");

    private static string Stopping(ExperimentOptions options) =>
        options.EarlyStoppingPatience is int patience ? FormattableString.Invariant($", stopping after {patience} epochs without a better validation loss") : "";

    /// <summary>Loads the saved zip in a new MLContext, as another process would, and scores the test set.</summary>
    private static (double MicroAccuracy, List<DigitPrediction> Digits) Reload(ExperimentOptions options, MnistIdxFiles files)
    {
        var mlContext = new MLContext(options.Seed);
        var model = mlContext.Model.Load(options.ModelPath, out _);
        using var ownedModel = model as IDisposable;
        var test = mlContext.Data.LoadFromMnistIdx(files.TestImages, files.TestLabels);
        var scored = model.Transform(test);
        double accuracy = mlContext.MulticlassClassification.Evaluate(scored).MicroAccuracy;

        // The first few test digits, plus the first mistakes so a wrong prediction shows too.
        var all = test.GetColumn<float[]>("Features")
            .Zip(test.GetColumn<float>("Label"), scored.GetColumn<float>("PredictedLabel"))
            .Select(row => new DigitPrediction(row.First, row.Second, row.Third))
            .ToList();
        var digits = all.Take(DigitsShown - 2).ToList();
        digits.AddRange(all.Skip(digits.Count).Where(d => !d.IsCorrect).Take(2));
        return (accuracy, digits);
    }

    /// <summary>The LSTM inside the fitted pipeline (MapValueToKey → LstmClassifier → MapKeyToValue).</summary>
    private static LstmClassifierTransformer Classifier(ITransformer model) =>
        ((IEnumerable<ITransformer>)model).OfType<LstmClassifierTransformer>().Single();

    /// <summary>The label values behind the key, in key order: the digits "0" … "9".</summary>
    private static string[] ClassNames(IDataView scored)
    {
        VBuffer<float> values = default;
        scored.Schema["Label"].GetKeyValues(ref values);
        return values.DenseValues().Select(v => v.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
    }
}
