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

    internal LstmClassifierTransformer(IHostEnvironment environment, LstmModel model)
    {
        ArgumentNullException.ThrowIfNull(environment);
        this.model = model;
        scorer = new BatchScorer(model.Network, this);
    }

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

    /// <summary>Length of the feature vector the model reads.</summary>
    public int FeatureLength => model.Shape.FeatureLength;

    /// <summary>Number of time steps the feature vector is read as.</summary>
    public int SequenceLength => model.Shape.SequenceLength;

    /// <summary>Hidden units per LSTM layer.</summary>
    public int HiddenSize => model.Shape.HiddenSize;

    /// <summary>Number of stacked LSTM layers.</summary>
    public int NumberOfLayers => model.Shape.NumberOfLayers;

    /// <summary>Whether the layers read the sequence in both directions.</summary>
    public bool Bidirectional => model.Shape.Bidirectional;

    /// <summary>Always true: each output row depends only on its input row.</summary>
    public bool IsRowToRowMapper => true;

    /// <summary>The input schema plus Score and PredictedLabel; checks the feature column first.</summary>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        ThrowIfDisposed();
        InputValidation.CheckFeatures(inputSchema, model.Columns.Features, model.Shape.SequenceLength, model.Shape.FeatureLength);
        return OutputColumns.Append(inputSchema, model.Columns.Score, model.Columns.PredictedLabel, model.Shape.ClassCount, model.LabelValues);
    }

    /// <summary>Scores lazily: rows are computed, a batch per forward pass, as a cursor reads them.</summary>
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var schema = GetOutputSchema(input.Schema);
        return new ScoredDataView(input, schema, ColumnsOf(input.Schema, schema), scorer);
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

    void ICanSaveModel.Save(ModelSaveContext ctx)
    {
        ThrowIfDisposed();
        ModelZip.Save(ctx, model);
    }

    /// <summary>
    /// Frees the network's native memory, after any forward pass in flight on another thread. Safe to
    /// call more than once.
    /// </summary>
    public void Dispose() => scorer.Dispose();

    private void ThrowIfDisposed() => scorer.ThrowIfDisposed();
}
