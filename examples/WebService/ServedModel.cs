using System.Globalization;
using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetLstm;

namespace WebService;

/// <summary>
/// A model zip written by MlNetLstm, loaded and ready to score: the whole saved pipeline, the LSTM inside
/// it, the class labels in score order and the rules a feature vector must follow.
/// </summary>
public sealed class ServedModel : IDisposable
{
    private readonly ITransformer pipeline;
    private readonly IModelScorer scorer;
    private readonly int maxSteps;

    private ServedModel(ITransformer pipeline, LstmClassifierTransformer classifier, IModelScorer scorer,
        string[] labels, int? featureLength, ModelInfo info, int maxSteps)
    {
        this.pipeline = pipeline;
        this.maxSteps = maxSteps;
        this.scorer = scorer;
        Classifier = classifier;
        Labels = labels;
        FeatureLength = featureLength;
        Info = info;
    }

    public LstmClassifierTransformer Classifier { get; }

    /// <summary>Class labels as text, in the order of the Score vector.</summary>
    public IReadOnlyList<string> Labels { get; }

    /// <summary>The length every feature vector must have, or null when any whole number of steps is read.</summary>
    public int? FeatureLength { get; }

    public int InputSize => Classifier.InputSize;

    /// <summary>Whether the features are a 28×28 image read one row per step, as MNIST digits are.</summary>
    public bool ReadsDigitImages => Info.Image is not null;

    /// <summary>What GET /model answers.</summary>
    public ModelInfo Info { get; }

    /// <summary>
    /// Loads <paramref name="path"/> in a new MLContext, as any application would.
    /// </summary>
    /// <exception cref="InvalidDataException">The file is not a model the service can feed; the message says why.</exception>
    public static ServedModel Load(string path, ServiceOptions options)
    {
        var mlContext = new MLContext();
        ITransformer pipeline;
        DataViewSchema inputSchema;
        try
        {
            pipeline = mlContext.Model.Load(path, out inputSchema);
        }
        catch (Exception e) when (e is not IOException and not UnauthorizedAccessException)
        {
            // ML.NET reports a damaged or foreign file with several exception types.
            throw new InvalidDataException($"not a readable ML.NET model zip: {e.Message}", e);
        }
        try
        {
            return Describe(mlContext, pipeline, inputSchema, path, options);
        }
        catch
        {
            (pipeline as IDisposable)?.Dispose();
            throw;
        }
    }

    private static ServedModel Describe(MLContext mlContext, ITransformer pipeline, DataViewSchema inputSchema, string path, ServiceOptions options)
    {
        var classifier = Flatten(pipeline).OfType<LstmClassifierTransformer>().LastOrDefault()
            ?? throw new InvalidDataException("the model holds no LstmClassifier.");
        var features = inputSchema.GetColumnOrNull(classifier.FeatureColumnName);
        if (features is not { Type: VectorDataViewType { ItemType: NumberDataViewType } featureType } || featureType.ItemType != NumberDataViewType.Single)
            throw new InvalidDataException(
                $"the LSTM reads column '{classifier.FeatureColumnName}', which the model's input is not as a vector of float; the service feeds that input column straight from the request.");
        // The label (needed by MapValueToKey in the pipeline) is the one other input the service can fill: with a missing value.
        var others = inputSchema.Where(c => !c.IsHidden && c.Name != classifier.FeatureColumnName).ToList();
        if (others.Count > 1)
            throw new InvalidDataException(
                $"the model's input has columns {string.Join(", ", others.Select(c => $"'{c.Name}'"))} besides '{classifier.FeatureColumnName}'; the service fills only one of them (the label).");
        DataViewSchema.Column? label = others.Count == 1 ? others[0] : null;

        var outputSchema = pipeline.GetOutputSchema(inputSchema);
        var score = outputSchema[classifier.ScoreColumnName];
        var predicted = outputSchema[classifier.PredictedLabelColumnName];
        var labels = ClassLabels(score, classifier.ClassCount);
        int? featureLength = featureType.IsKnownSize ? featureType.Size : null;

        var scorer = (IModelScorer)Activator.CreateInstance(
            typeof(ModelScorer<,>).MakeGenericType(label?.Type.RawType ?? typeof(float), predicted.Type.RawType),
            mlContext, pipeline, features.Value, label, score, predicted, labels, options.Scoring)!;

        var image = featureLength == DigitSide * DigitSide && classifier.InputSize == DigitSide && classifier.FeatureLayout == FeatureLayout.StepMajor
            ? new ImageShape(DigitSide, DigitSide) : null;
        var info = new ModelInfo(
            labels, featureLength, classifier.InputSize, featureLength / classifier.InputSize, classifier.FeatureColumnName,
            label?.Name, classifier.ClassCount, classifier.FeatureLayout.ToString(), classifier.InputNormalization.ToString(),
            classifier.HiddenSize, classifier.NumberOfLayers, classifier.Bidirectional,
            classifier.TrainingSummary, classifier.TrainingSummary?.ToString(), LibraryVersion, Path.GetFileName(path), image,
            options.Scoring == ScoringMode.Engines ? "engines" : "transformer", options.TorchThreads, options.MaxBatchRows, options.MaxRequestBytes);
        return new ServedModel(pipeline, classifier, scorer, labels, featureLength, info, options.MaxSteps);
    }

    private const int DigitSide = 28;

    /// <summary>Every transformer of a pipeline, chains opened.</summary>
    private static IEnumerable<ITransformer> Flatten(ITransformer transformer) =>
        transformer is IEnumerable<ITransformer> chain ? chain.SelectMany(Flatten) : [transformer];

    /// <summary>The Score column's slot names (the label values as text), or the class numbers when it has none.</summary>
    private static string[] ClassLabels(DataViewSchema.Column score, int classCount)
    {
        if (score.HasSlotNames())
        {
            VBuffer<ReadOnlyMemory<char>> names = default;
            score.GetSlotNames(ref names);
            if (names.Length == classCount)
                return names.DenseValues().Select(n => n.ToString()).ToArray();
        }
        return Enumerable.Range(0, classCount).Select(i => i.ToString(CultureInfo.InvariantCulture)).ToArray();
    }

    private static string LibraryVersion =>
        typeof(LstmClassifierTransformer).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
        ?? typeof(LstmClassifierTransformer).Assembly.GetName().Version?.ToString() ?? "unknown";

    /// <summary>What is wrong with <paramref name="features"/> (named <paramref name="name"/> in the message), or null when the model can read it.</summary>
    public string? Problem(float[]? features, string name)
    {
        if (features is null)
            return $"'{name}' is missing: send an array of numbers.";
        if (features.Length == 0)
            return $"'{name}' is empty: send {Expected}.";
        if (FeatureLength is int length ? features.Length != length : features.Length % InputSize != 0)
            return $"'{name}' has {features.Length:N0} values; this model reads {Expected}.";
        if (FeatureLength is null && features.Length / InputSize > maxSteps)
            return $"'{name}' has {features.Length / InputSize:N0} steps; the service reads at most {maxSteps:N0} (--{ServiceOptions.MaxStepsKey}).";
        int bad = Array.FindIndex(features, v => !float.IsFinite(v));
        if (bad >= 0)
            return $"'{name}[{bad}]' is {features[bad].ToString(CultureInfo.InvariantCulture)}; the model reads finite 32-bit numbers only.";
        return null;
    }

    private string Expected => FeatureLength is int length
        ? $"{length:N0} values ({length / InputSize} steps of {InputSize})"
        : $"a whole number of steps of {InputSize} value{(InputSize == 1 ? "" : "s")} each";

    /// <summary>
    /// What is wrong with a prediction that cannot be sent: scores that are not finite numbers (JSON has
    /// none), which finite but extreme inputs can give by overflowing the network; null when it can be sent.
    /// </summary>
    public static string? Unsendable(Prediction prediction, string name) =>
        Array.TrueForAll(prediction.Score, float.IsFinite) ? null
        : $"'{name}' gives scores that are not finite numbers: its values overflow the network. Send values on the scale the model was trained on.";

    /// <summary>Scores one checked row (see <see cref="Problem"/>).</summary>
    public Prediction Predict(float[] features) => scorer.Predict(features);

    /// <summary>Scores checked rows in one pass of the transformer: one forward pass per group of rows of one length.</summary>
    public IReadOnlyList<Prediction> PredictBatch(IReadOnlyList<float[]> rows) => scorer.PredictBatch(rows);

    /// <summary>Frees the engines and the network's native memory, after any forward pass in flight.</summary>
    public void Dispose()
    {
        scorer.Dispose();
        (pipeline as IDisposable)?.Dispose();
    }
}

/// <summary>The class scores of one row and the label the pipeline predicts for it, as text.</summary>
public sealed record Prediction(string PredictedLabel, float[] Score);

/// <summary>A feature vector that is an image read one row per step.</summary>
public sealed record ImageShape(int Width, int Height);

/// <summary>What GET /model answers: how to feed the model and what it answers with.</summary>
/// <param name="Labels">Class labels as text, in the order of every score vector.</param>
/// <param name="FeatureLength">The length of every feature vector, or null when any whole number of steps is read.</param>
/// <param name="InputSize">Values per step.</param>
/// <param name="SequenceLength">Steps per feature vector, or null when that varies.</param>
/// <param name="FeatureColumn">The feature column's name in the pipeline.</param>
/// <param name="LabelColumn">The label column the pipeline's input has (filled with a missing value), if any.</param>
/// <param name="ClassCount">Classes, the length of every score vector.</param>
/// <param name="FeatureLayout">Where value (step, channel) sits in a feature vector.</param>
/// <param name="InputNormalization">The scaling the model applies to its input itself.</param>
/// <param name="HiddenSize">Hidden units per LSTM layer.</param>
/// <param name="NumberOfLayers">Stacked LSTM layers.</param>
/// <param name="Bidirectional">Whether the layers read both ways.</param>
/// <param name="TrainingSummary">How the model was trained; null for models saved by MlNetLstm 0.1.0.</param>
/// <param name="TrainingSummaryText">The same in one line.</param>
/// <param name="LibraryVersion">The MlNetLstm version serving it.</param>
/// <param name="ModelFile">The model file's name.</param>
/// <param name="Image">The image shape for models that read 28×28 digits row by row (the page then offers a canvas), else null.</param>
/// <param name="Scoring">How single rows are scored: "engines" or "transformer".</param>
/// <param name="TorchThreads">libtorch's intra-op threads in the service.</param>
/// <param name="MaxBatchRows">Rows one POST /predict/batch may hold.</param>
/// <param name="MaxRequestBytes">Bytes one request body may hold.</param>
public sealed record ModelInfo(
    IReadOnlyList<string> Labels,
    int? FeatureLength,
    int InputSize,
    int? SequenceLength,
    string FeatureColumn,
    string? LabelColumn,
    int ClassCount,
    string FeatureLayout,
    string InputNormalization,
    int HiddenSize,
    int NumberOfLayers,
    bool Bidirectional,
    LstmTrainingSummary? TrainingSummary,
    string? TrainingSummaryText,
    string LibraryVersion,
    string ModelFile,
    ImageShape? Image,
    string Scoring,
    int TorchThreads,
    int MaxBatchRows,
    long MaxRequestBytes);
