using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MlNetLstm.MlNetInternals;
using MlNetLstm.Persistence;
using MlNetLstm.Schema;
using MlNetLstm.Scoring;

namespace MlNetLstm;

/// <summary>
/// A fitted LSTM classifier. <see cref="Transform"/> appends <c>Score</c> (class probabilities) and
/// <c>PredictedLabel</c> (a key of the training label's type) to the input. Saves and loads with
/// <c>mlContext.Model.Save</c> / <c>mlContext.Model.Load</c>.
/// </summary>
/// <remarks>
/// Thread safety: one transformer may serve many threads at once — its output data views, their
/// cursors (one per thread, including parallel cursor sets) and one <c>PredictionEngine</c> per thread.
/// A single cursor or prediction engine is not thread-safe. Dispose the transformer to free the
/// network's native memory; using it afterwards throws <see cref="ObjectDisposedException"/>.
/// </remarks>
public sealed class LstmClassifierTransformer : ITransformer, IDisposable
{
    private readonly LstmModel model;
    private readonly BatchScorer scorer;

    internal LstmClassifierTransformer(LstmModel model)
    {
        this.model = model;
        scorer = new BatchScorer(model, this);
    }

    /// <summary>The model behind this transformer (tests and the exporter read it).</summary>
    internal LstmModel Model => model;

    /// <summary>Guards the network's lifetime (tests observe it).</summary>
    internal BatchScorer Scorer => scorer;

    /// <summary>Name of the label column the model was trained on.</summary>
    public string LabelColumnName => model.Columns.Label;

    /// <summary>Name of the input column of features.</summary>
    public string FeatureColumnName => model.Columns.Features;

    /// <summary>Name of the output column of class probabilities.</summary>
    public string ScoreColumnName => model.Columns.Score;

    /// <summary>Name of the output column of predicted keys.</summary>
    public string PredictedLabelColumnName => model.Columns.PredictedLabel;

    /// <summary>Number of classes, the length of the Score vector.</summary>
    public int ClassCount => model.Shape.ClassCount;

    /// <summary>
    /// Size of the feature vectors the model was trained on, or null when they were of variable size. The
    /// model scores vectors of any size that is a whole number of steps.
    /// </summary>
    public int? FeatureLength => model.Input.FeatureLength;

    /// <summary>Time steps of the training rows when they all had one length (<see cref="FeatureLength"/> ÷ <see cref="InputSize"/>), else null.</summary>
    public int? SequenceLength => model.Input.SequenceLength;

    /// <summary>Values per step (channels) the LSTM reads.</summary>
    public int InputSize => model.Input.InputSize;

    /// <summary>Where value (step, channel) sits in a feature vector.</summary>
    public FeatureLayout FeatureLayout => model.Input.Layout;

    /// <summary>The scaling applied to the input inside the model.</summary>
    public InputNormalization InputNormalization =>
        model.Input.Normalization is null ? InputNormalization.None : InputNormalization.PerChannel;

    /// <summary>Hidden units per LSTM layer.</summary>
    public int HiddenSize => model.Shape.HiddenSize;

    /// <summary>Number of stacked LSTM layers.</summary>
    public int NumberOfLayers => model.Shape.NumberOfLayers;

    /// <summary>Whether the layers read the sequence in both directions.</summary>
    public bool Bidirectional => model.Shape.Bidirectional;

    /// <summary>How the model was trained, and which batch its weights come from; null for models saved by MlNetLstm 0.1.0.</summary>
    public LstmTrainingSummary? TrainingSummary => model.Summary;

    /// <summary>Always true: each output row depends only on its input row.</summary>
    public bool IsRowToRowMapper => true;

    /// <summary>The input schema plus Score and PredictedLabel; checks the feature column first.</summary>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        ThrowIfDisposed();
        InputValidation.CheckScoringFeatures(inputSchema, model.Columns.Features, model.Input.InputSize);
        return OutputColumns.Append(inputSchema, model.Columns.Score, model.Columns.PredictedLabel, model.Shape.ClassCount, model.LabelValues);
    }

    /// <summary>Scores lazily: rows are computed, a batch per forward pass, as a cursor reads them.</summary>
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var schema = GetOutputSchema(input.Schema);
        return OnnxExport.ScoredView(input, schema, ColumnsOf(input.Schema, schema), scorer);
    }

    /// <summary>Row-at-a-time scoring, used by <c>PredictionEngine</c>.</summary>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema)
    {
        var schema = GetOutputSchema(inputSchema);
        return new ScoringRowMapper(inputSchema, schema, ColumnsOf(inputSchema, schema), scorer);
    }

    private ScoringColumns ColumnsOf(DataViewSchema input, DataViewSchema output) => new(
        FeatureIndex: input[model.Columns.Features].Index,
        ScoreIndex: output[model.Columns.Score].Index,
        PredictedLabelIndex: output[model.Columns.PredictedLabel].Index);

    void ICanSaveModel.Save(ModelSaveContext ctx) =>
        // Held against Dispose for the whole write: the weights cannot be freed under it.
        scorer.WithNetwork(_ => ModelZip.Save(ctx, stream => LstmModelFormat.Write(stream, model)));

    /// <summary>
    /// Frees the network's native memory, after any forward pass in flight on another thread. Safe to
    /// call more than once.
    /// </summary>
    public void Dispose() => scorer.Dispose();

    private void ThrowIfDisposed() => scorer.ThrowIfDisposed();
}
