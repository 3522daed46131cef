using Microsoft.ML;

namespace MlNetLstm.Scoring;

/// <summary>
/// The lazy result of <see cref="LstmClassifierTransformer.Transform"/>: the input's columns plus Score
/// and PredictedLabel, computed by cursors that score a batch of rows per forward pass.
/// </summary>
internal class ScoredDataView : IDataView
{
    private readonly IDataView source;

    public ScoredDataView(IDataView source, DataViewSchema schema, ScoringColumns columns, BatchScorer scorer)
    {
        this.source = source;
        Schema = schema;
        Columns = columns;
        Scorer = scorer;
    }

    /// <summary>The view being scored.</summary>
    public IDataView Source => source;

    public DataViewSchema Schema { get; }
    public ScoringColumns Columns { get; }
    public BatchScorer Scorer { get; }

    public bool CanShuffle => source.CanShuffle;

    public long? GetRowCount() => source.GetRowCount();

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        var active = Columns.ActiveOutputs(Schema, columnsNeeded);
        return Wrap(source.GetRowCursor(Columns.InputsFor(source.Schema, active), rand), active);
    }

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
    {
        var active = Columns.ActiveOutputs(Schema, columnsNeeded);
        var inputs = source.GetRowCursorSet(Columns.InputsFor(source.Schema, active), n, rand);
        var cursors = new DataViewRowCursor[inputs.Length];
        int built = 0;
        try
        {
            for (; built < inputs.Length; built++)
                cursors[built] = Wrap(inputs[built], active);
            return cursors;
        }
        catch
        {
            // Release the cursors built; Wrap released the input that failed; then the ones not reached.
            foreach (var cursor in cursors.Take(built))
                cursor.Dispose();
            foreach (var input in inputs.Skip(built + 1))
                input.Dispose();
            throw;
        }
    }

    /// <summary>A scoring cursor over <paramref name="input"/>; if it cannot be built, the input is disposed.</summary>
    private ScoringCursor Wrap(DataViewRowCursor input, bool[] active)
    {
        try
        {
            return new ScoringCursor(this, input, active);
        }
        catch
        {
            input.Dispose();
            throw;
        }
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
