using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using ExampleSupport;
using MlNetLstm;
using static ExampleSupport.ConsoleOutput;

namespace TimeSeries;

/// <summary>
/// The whole example: load a UCR/UEA problem's two .ts files, choose the settings from the data, train the
/// LSTM in an ML.NET pipeline with a held-out validation set, evaluate on the test file, save the model and
/// check that a fresh MLContext reloads it with the same accuracy, then write the plot (and JSON).
/// </summary>
internal static class TimeSeriesExperiment
{
    /// <summary>Runs everything on the calling thread; returns the process exit code.</summary>
    public static int Run(ExperimentOptions options)
    {
        var console = ConsoleOutput.Create();
        var mlContext = new MLContext(options.Seed);
        var trainFile = mlContext.Data.LoadFromTsFile(options.TrainPath, out var trainInfo);
        var testFile = mlContext.Data.LoadFromTsFile(options.TestPath, out var testInfo);
        CheckSameProblem(trainInfo, testInfo);
        string problem = trainInfo.ProblemName ?? Path.GetFileNameWithoutExtension(options.TrainPath);
        string modelPath = options.ModelPath ?? DefaultOutput(problem, ".zip");
        string plotPath = options.PlotPath ?? DefaultOutput(problem, ".png");
        // Output folders now, so an unwritable path fails before training rather than after.
        foreach (var path in new[] { modelPath, plotPath, options.MetricsJsonPath, options.OnnxPath })
            if (path is not null)
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);

        Say($"Train: {trainInfo}");
        Say($"Test:  {testInfo}");
        if (trainInfo.HasMissingValues || testInfo.HasMissingValues)
            Say($"Note: missing values ('?' or NaN) inside a series cannot be read by the LSTM: such training rows are skipped and such test rows get no prediction (trailing all-NaN padding is fine).");
        var shape = new DataShape(trainInfo.CaseCount, trainInfo.Channels, trainInfo.MinLength, trainInfo.MaxLength);
        var plan = TrainingPlan.Choose(shape, options.Overrides);
        if (plan.ValuesPerStep > shape.MinLength)
        {
            Console.Error.WriteLine($"error: --values-per-step {plan.ValuesPerStep} is longer than the shortest training series ({shape.MinLength} time steps), which would be left with no step.");
            return 2;
        }
        foreach (var line in plan.Describe(shape))
            Say($"{line}");

        var train = SeriesPreparation.Fold(mlContext, trainFile, trainInfo.Channels, plan.ValuesPerStep, out var trainFolding);
        var test = SeriesPreparation.Fold(mlContext, testFile, testInfo.Channels, plan.ValuesPerStep, out var testFolding);
        if (trainFolding.TrimmedRows + testFolding.TrimmedRows > 0)
            Say($"Folding: the first L mod {plan.ValuesPerStep} time steps of each series are dropped so that its length L is a multiple of {plan.ValuesPerStep}: {trainFolding.TrimmedRows} of {trainFolding.Rows} training and {testFolding.TrimmedRows} of {testFolding.Rows} test series lost up to {Math.Max(trainFolding.MaxTrimmed, testFolding.MaxTrimmed)} time steps each.");

        var display = new TrainingDisplay(console, live: IsInteractive);
        var clock = Stopwatch.StartNew();
        var model = display.Run(progress => Pipeline(mlContext, trainInfo.ClassLabels, plan.ClassifierOptions(progress, options.Seed)).Fit(train));
        using var ownedModel = model as IDisposable; // frees the network's native memory
        double trainSeconds = clock.Elapsed.TotalSeconds;
        var summary = Classifier(model).TrainingSummary!;
        Say($"Training: {summary} - {trainSeconds:F1} s");

        var scored = model.Transform(test);
        var metrics = mlContext.MulticlassClassification.Evaluate(scored);
        var classes = ClassNames(scored);
        MetricsTables.Write(console, metrics, classes, classHeader: "class", countHeader: "test cases");

        mlContext.Model.SaveAtomically(model, train.Schema, modelPath);
        Say($"Model written to {modelPath}");

        double reloadedAccuracy = Reload(options.TestPath, modelPath, plan.ValuesPerStep, options.Seed);
        bool same = reloadedAccuracy == metrics.MicroAccuracy;
        Say($"Reloaded with a new MLContext: micro accuracy {reloadedAccuracy:F4} (trained model {metrics.MicroAccuracy:F4}) - {(same ? "same" : "DIFFERENT")}");

        TrainingPlot.Save(plotPath, display.History, summary, metrics.MicroAccuracy, metrics.ConfusionMatrix.Counts, classes, classHeader: "class");
        Say($"Plot written to {plotPath}");

        var onnx = OnnxExportCheck.RunIfRequested(mlContext, model, test, options.OnnxPath);

        if (options.MetricsJsonPath is string jsonPath)
        {
            var matrix = metrics.ConfusionMatrix;
            new MetricsJson(metrics.MicroAccuracy, metrics.MacroAccuracy, metrics.LogLoss,
                trainInfo.CaseCount, testInfo.CaseCount, classes, trainInfo.Channels,
                Math.Min(trainInfo.MinLength, testInfo.MinLength), Math.Max(trainInfo.MaxLength, testInfo.MaxLength),
                summary.Epochs, summary.KeptEpoch, summary.BestValidationLoss, summary.BestValidationAccuracy, summary.StoppedEarly,
                trainSeconds, reloadedAccuracy, modelPath, plotPath, plan.ValuesPerStep, plan.HiddenSize, plan.Dropout,
                plan.BatchSize, plan.Epochs, plan.Patience, plan.ValidationFraction, options.Seed,
                [.. matrix.PerClassPrecision], [.. matrix.PerClassRecall], [.. matrix.Counts.Select(row => row.ToArray())], onnx is null ? null : options.OnnxPath, onnx?.MaxScoreDifference, onnx?.KeysDiffering).Write(jsonPath);
            Say($"Metrics written to {jsonPath}");
        }

        return ChecksAfterTraining.ExitCode(same, onnx);
    }

    /// <summary>The train and test files must describe the same problem: same channels, and no test label the training file lacks.</summary>
    private static void CheckSameProblem(TsFileInfo train, TsFileInfo test)
    {
        if (train.ClassLabels.Count < 2)
            throw new InvalidDataException($"'{train.Path}' declares {(train.ClassLabels.Count == 0 ? "no class labels (@classLabel false)" : "a single class label")}: a classifier needs at least two.");
        if (test.Channels != train.Channels)
            throw new InvalidDataException($"'{test.Path}' has {test.Channels} channel(s) where '{train.Path}' has {train.Channels}.");
        var unknown = test.ClassLabels.Except(train.ClassLabels).ToArray();
        if (unknown.Length > 0)
            throw new InvalidDataException($"'{test.Path}' declares class label(s) {string.Join(", ", unknown.Select(l => $"'{l}'"))} that '{train.Path}' does not.");
    }

    private static string DefaultOutput(string problem, string extension)
    {
        // The problem name comes from the file: keep it to characters any file system takes.
        var safe = new string(problem.Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' ? c : '_').ToArray());
        return Path.Combine(AppPaths.DefaultOutputFolder, $"{safe}-lstm{extension}");
    }

    private static IEstimator<ITransformer> Pipeline(MLContext mlContext, IReadOnlyList<string> declaredLabels, LstmClassifierOptions options) =>
        // Keys in the order the file declares its labels (@classLabel), so tables and plots follow the file.
        mlContext.Transforms.Conversion.MapValueToKey("Label", keyData: LabelsAsData(mlContext, declaredLabels))
            .Append(mlContext.Transforms.LstmClassifier(options))
            .Append(mlContext.Transforms.Conversion.MapKeyToValue("PredictedLabel"));

    private static IDataView LabelsAsData(MLContext mlContext, IReadOnlyList<string> labels) =>
        mlContext.Data.LoadFromEnumerable(labels.Select(label => new LabelValue { Label = label }));

    private sealed class LabelValue
    {
        public string Label { get; set; } = "";
    }

    /// <summary>Loads the saved zip in a new MLContext, as another process would, and scores the test file prepared the same way.</summary>
    private static double Reload(string testPath, string modelPath, int valuesPerStep, int seed)
    {
        var mlContext = new MLContext(seed);
        var model = mlContext.Model.Load(modelPath, out _);
        using var ownedModel = model as IDisposable;
        var testFile = mlContext.Data.LoadFromTsFile(testPath, out var info);
        var test = SeriesPreparation.Fold(mlContext, testFile, info.Channels, valuesPerStep, out _);
        return mlContext.MulticlassClassification.Evaluate(model.Transform(test)).MicroAccuracy;
    }

    /// <summary>The LSTM inside the fitted pipeline (MapValueToKey → LstmClassifier → MapKeyToValue).</summary>
    private static LstmClassifierTransformer Classifier(ITransformer model) =>
        ((IEnumerable<ITransformer>)model).OfType<LstmClassifierTransformer>().Single();

    /// <summary>The label values behind the key, in key order: the file's declared order.</summary>
    private static string[] ClassNames(IDataView scored)
    {
        VBuffer<ReadOnlyMemory<char>> values = default;
        scored.Schema["Label"].GetKeyValues(ref values);
        return values.DenseValues().Select(v => v.ToString()).ToArray();
    }
}
