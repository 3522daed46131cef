using Microsoft.ML;

namespace MlNetLstm.Scoring;

/// <summary>
/// The lazy result of <see cref="LstmClassifierTransformer.Transform"/>: the input's columns plus Score
/// and PredictedLabel, computed by cursors that score a batch of rows per forward pass.
/// </summary>
internal sealed class ScoredDataView : IDataView
{
    private readonly IDataView source;

    public ScoredDataView(IDataView source, DataViewSchema schema, ScoringColumns columns, BatchScorer scorer)
    {
        this.source = source;
        Schema = schema;
        Columns = columns;
        Scorer = scorer;
    }

    public DataViewSchema Schema { get; }
    public ScoringColumns Columns { get; }
    public BatchScorer Scorer { get; }

    public bool CanShuffle => source.CanShuffle;

    public long? GetRowCount() => source.GetRowCount();

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        var active = Columns.ActiveOutputs(Schema, columnsNeeded);
        var input = source.GetRowCursor(Columns.InputsFor(source.Schema, active), rand);
        return new ScoringCursor(this, input, active);
    }

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
    {
        var active = Columns.ActiveOutputs(Schema, columnsNeeded);
        return source.GetRowCursorSet(Columns.InputsFor(source.Schema, active), n, rand)
            .Select(input => (DataViewRowCursor)new ScoringCursor(this, input, active))
            .ToArray();
    }
}

/// <summary>Where the scored columns sit: the feature column read and the two columns appended.</summary>
internal sealed record ScoringColumns(int FeatureIndex, int ScoreIndex, int PredictedLabelIndex)
{
    public bool IsScored(int outputIndex) => outputIndex == ScoreIndex || outputIndex == PredictedLabelIndex;

    public bool[] ActiveOutputs(DataViewSchema output, IEnumerable<DataViewSchema.Column> needed)
    {
        var active = new bool[output.Count];
        foreach (var column in needed)
            active[column.Index] = true;
        return active;
    }

    /// <summary>Input columns needed: pass-through columns asked for, plus the features when scoring.</summary>
    public IEnumerable<DataViewSchema.Column> InputsFor(DataViewSchema input, bool[] activeOutputs)
    {
        bool scoring = activeOutputs[ScoreIndex] || activeOutputs[PredictedLabelIndex];
        return input.Where(c => activeOutputs[c.Index] || (scoring && c.Index == FeatureIndex));
    }
}
