using System.Globalization;
using Microsoft.Extensions.ObjectPool;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace WebService;

/// <summary>Scores rows that <see cref="ServedModel.Problem"/> accepted.</summary>
internal interface IModelScorer : IDisposable
{
    Prediction Predict(float[] features);
    IReadOnlyList<Prediction> PredictBatch(IReadOnlyList<float[]> rows);
}

/// <summary>A row of the pipeline's input: the features, and the label column filled with a missing value.</summary>
public sealed class ModelInput<TLabel>
{
    public TLabel Label { get; set; } = default!;
    public float[] Features { get; set; } = [];
}

/// <summary>What the service reads of the pipeline's output.</summary>
public sealed class ModelOutput<TPredicted>
{
    public float[] Score { get; set; } = [];
    public TPredicted PredictedLabel { get; set; } = default!;
}

/// <summary>
/// Scoring through ML.NET's typed API, for any label type: <typeparamref name="TLabel"/> is the raw type of
/// the input's label column, <typeparamref name="TPredicted"/> that of the output's PredictedLabel (the label
/// type after MapKeyToValue, uint for a key).
/// </summary>
/// <remarks>
/// Nothing here is locked across requests: engines come from a pool (one request holds one), and the
/// transformer is thread-safe, so batches and transformer-mode rows each get a data view of their own.
/// </remarks>
internal sealed class ModelScorer<TLabel, TPredicted> : IModelScorer
{
    private readonly MLContext mlContext;
    private readonly ITransformer pipeline;
    private readonly SchemaDefinition inputDefinition;
    private readonly SchemaDefinition outputDefinition;
    private readonly string scoreColumn;
    private readonly string predictedColumn;
    private readonly Func<TPredicted, string> labelText;
    private readonly ScoringMode mode;
    private readonly ObjectPool<PredictionEngine<ModelInput<TLabel>, ModelOutput<TPredicted>>> engines;
    private readonly TLabel missingLabel;

    public ModelScorer(MLContext mlContext, ITransformer pipeline, DataViewSchema.Column features, DataViewSchema.Column? label,
        DataViewSchema.Column score, DataViewSchema.Column predicted, string[] labels, ScoringMode mode)
    {
        this.mlContext = mlContext;
        this.pipeline = pipeline;
        this.mode = mode;
        inputDefinition = SchemaDefinition.Create(typeof(ModelInput<TLabel>), SchemaDefinition.Direction.Read);
        // The saved input types: a variable-size vector for models of variable length, the label's own type.
        Bind(inputDefinition, nameof(ModelInput<TLabel>.Features), features.Name, features.Type);
        if (label is DataViewSchema.Column labelColumn)
            Bind(inputDefinition, nameof(ModelInput<TLabel>.Label), labelColumn.Name, labelColumn.Type);
        else
            inputDefinition.RemoveAll(c => c.MemberName == nameof(ModelInput<TLabel>.Label));
        scoreColumn = score.Name;
        predictedColumn = predicted.Name;
        outputDefinition = SchemaDefinition.Create(typeof(ModelOutput<TPredicted>), SchemaDefinition.Direction.Write);
        Bind(outputDefinition, nameof(ModelOutput<TPredicted>.Score), score.Name, type: null);
        Bind(outputDefinition, nameof(ModelOutput<TPredicted>.PredictedLabel), predicted.Name, type: null);
        labelText = LabelText(predicted.Type, labels);
        missingLabel = MissingValue();

        var options = new PredictionEngineOptions
        {
            // Every engine shares the one pipeline, which ServedModel disposes.
            OwnsTransformer = false,
            InputSchemaDefinition = inputDefinition,
            OutputSchemaDefinition = outputDefinition,
        };
        // Kept for reuse: up to a few per core, as many as requests score at once on a busy machine. An
        // engine is small (one row's buffers); those beyond that are disposed when returned.
        engines = new DefaultObjectPoolProvider { MaximumRetained = 4 * Environment.ProcessorCount }
            .Create(new EnginePolicy(() => mlContext.Model.CreatePredictionEngine<ModelInput<TLabel>, ModelOutput<TPredicted>>(pipeline, options)));
    }

    public Prediction Predict(float[] features)
    {
        if (mode == ScoringMode.Transformer)
            return PredictBatch([features])[0];
        var engine = engines.Get();
        try
        {
            return ToPrediction(engine.Predict(Input(features)));
        }
        finally
        {
            engines.Return(engine);
        }
    }

    public IReadOnlyList<Prediction> PredictBatch(IReadOnlyList<float[]> rows)
    {
        var scored = pipeline.Transform(mlContext.Data.LoadFromEnumerable(rows.Select(Input), inputDefinition));
        // A plain cursor rather than CreateEnumerable, whose typed reader costs about 1 ms to set up per call.
        // It reads the rows ahead and scores them together, a forward pass per length.
        var score = scored.Schema[scoreColumn];
        var predicted = scored.Schema[predictedColumn];
        using var cursor = scored.GetRowCursor([score, predicted]);
        var getScore = cursor.GetGetter<VBuffer<float>>(score);
        var getPredicted = cursor.GetGetter<TPredicted>(predicted);
        var predictions = new List<Prediction>(rows.Count);
        VBuffer<float> scores = default;
        TPredicted label = default!;
        while (cursor.MoveNext())
        {
            getScore(ref scores);
            getPredicted(ref label);
            predictions.Add(new Prediction(labelText(label), scores.DenseValues().ToArray()));
        }
        return predictions;
    }

    private ModelInput<TLabel> Input(float[] features) => new() { Label = missingLabel, Features = features };

    private Prediction ToPrediction(ModelOutput<TPredicted> output) => new(labelText(output.PredictedLabel), output.Score);

    private static void Bind(SchemaDefinition definition, string member, string column, DataViewType? type)
    {
        var entry = definition.Single(c => c.MemberName == member);
        entry.ColumnName = column;
        if (type is not null)
            entry.ColumnType = type;
    }

    /// <summary>NaN for a float label, the default otherwise (empty text, key 0): MapValueToKey maps either to the missing key.</summary>
    private static TLabel MissingValue() =>
        typeof(TLabel) == typeof(float) ? (TLabel)(object)float.NaN
        : typeof(TLabel) == typeof(double) ? (TLabel)(object)double.NaN
        : default!;

    /// <summary>
    /// The predicted label as the labels list spells it: a key through the labels, numbers in the invariant
    /// culture (float and double round-trip, as ML.NET writes label values into slot names).
    /// </summary>
    private static Func<TPredicted, string> LabelText(DataViewType type, string[] labels)
    {
        if (type is KeyDataViewType)
            return key =>
            {
                ulong k = Convert.ToUInt64(key, CultureInfo.InvariantCulture); // 0 is the missing key
                return k >= 1 && k <= (ulong)labels.Length ? labels[k - 1] : "";
            };
        if (typeof(TPredicted) == typeof(float))
            return value => ((float)(object)value!).ToString("R", CultureInfo.InvariantCulture);
        if (typeof(TPredicted) == typeof(double))
            return value => ((double)(object)value!).ToString("R", CultureInfo.InvariantCulture);
        return value => value is IFormattable formattable ? formattable.ToString(null, CultureInfo.InvariantCulture) : value?.ToString() ?? "";
    }

    public void Dispose() => (engines as IDisposable)?.Dispose();

    private sealed class EnginePolicy(Func<PredictionEngine<ModelInput<TLabel>, ModelOutput<TPredicted>>> create)
        : IPooledObjectPolicy<PredictionEngine<ModelInput<TLabel>, ModelOutput<TPredicted>>>
    {
        public PredictionEngine<ModelInput<TLabel>, ModelOutput<TPredicted>> Create() => create();

        public bool Return(PredictionEngine<ModelInput<TLabel>, ModelOutput<TPredicted>> engine) => true;
    }
}
