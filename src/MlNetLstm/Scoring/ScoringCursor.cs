using Microsoft.ML;
using Microsoft.ML.Data;

namespace MlNetLstm.Scoring;

/// <summary>
/// Reads input rows ahead (up to <see cref="BatchScorer.MaxBatchRows"/>, fewer when rows or classes are
/// large), scores them in one forward pass, then serves them one at a time. Pass-through columns are
/// buffered for the batch; when neither scored column is asked for, rows go straight through.
/// </summary>
internal sealed class ScoringCursor : DataViewRowCursor
{
    private readonly ScoredDataView parent;
    private readonly DataViewRowCursor input;
    private readonly bool[] active;
    private readonly bool scoring;

    private readonly BufferedColumn?[] buffered;
    private readonly ValueGetter<DataViewRowId> inputId = null!;
    private readonly DataViewRowId[] ids = null!;
    // Each row keeps the upstream batch it came from: ML.NET restores the order of rows read by
    // parallel cursors from their Batch and Position.
    private readonly long[] batches = null!;
    private readonly ValueGetter<VBuffer<float>> inputFeatures = null!;
    private VBuffer<float> featureRow;
    private readonly ScoringBatch batch = null!;

    private int rowsInBatch;
    private int slot = -1;
    private long position = -1;

    public ScoringCursor(ScoredDataView parent, DataViewRowCursor input, bool[] active)
    {
        this.parent = parent;
        this.input = input;
        this.active = active;
        var columns = parent.Columns;
        scoring = active[columns.ScoreIndex] || active[columns.PredictedLabelIndex];
        buffered = new BufferedColumn?[input.Schema.Count];
        if (!scoring)
            return;

        batch = parent.Scorer.CreateBatch(BatchScorer.MaxBatchRows);
        try
        {
            foreach (var column in input.Schema)
            {
                if (active[column.Index])
                    buffered[column.Index] = BufferedColumn.Create(input, column, batch.Capacity);
            }
            inputId = input.GetIdGetter();
            ids = new DataViewRowId[batch.Capacity];
            batches = new long[batch.Capacity];
            inputFeatures = input.GetGetter<VBuffer<float>>(input.Schema[columns.FeatureIndex]);
        }
        catch
        {
            batch.Dispose();
            throw;
        }
    }

    public override DataViewSchema Schema => parent.Schema;
    public override long Position => position;
    public override long Batch => scoring && slot >= 0 ? batches[slot] : input.Batch;

    public override bool IsColumnActive(DataViewSchema.Column column) => active[column.Index];

    public override bool MoveNext()
    {
        if (!scoring)
        {
            if (!input.MoveNext())
                return false;
            position++;
            return true;
        }
        if (slot + 1 < rowsInBatch)
        {
            slot++;
            position++;
            return true;
        }
        if (!ReadAndScoreBatch())
            return false;
        slot = 0;
        position++;
        return true;
    }

    private bool ReadAndScoreBatch()
    {
        batch.Clear();
        rowsInBatch = 0;
        while (batch.HasRoom && input.MoveNext())
        {
            int row = batch.Count;
            foreach (var column in buffered)
                column?.Store(row);
            inputId(ref ids[row]);
            batches[row] = input.Batch;
            inputFeatures(ref featureRow);
            batch.Add(featureRow);
        }
        if (batch.Count == 0)
            return false;
        batch.Score();
        rowsInBatch = batch.Count;
        return true;
    }

    public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
    {
        if (!active[column.Index])
            throw new InvalidOperationException($"Column '{column.Name}' was not requested when this cursor was created.");
        var columns = parent.Columns;
        Delegate getter;
        if (column.Index == columns.ScoreIndex)
            getter = (ValueGetter<VBuffer<float>>)GetScore;
        else if (column.Index == columns.PredictedLabelIndex)
            getter = (ValueGetter<uint>)GetPredictedLabel;
        else if (!scoring)
            return input.GetGetter<TValue>(input.Schema[column.Index]);
        else
            getter = buffered[column.Index]!.MakeGetter(CurrentSlot);
        return getter as ValueGetter<TValue> ?? throw new InvalidOperationException(
            $"Column '{column.Name}' holds {column.Type}; it cannot be read as {typeof(TValue).Name}.");
    }

    public override ValueGetter<DataViewRowId> GetIdGetter()
    {
        if (!scoring)
            return input.GetIdGetter();
        return (ref DataViewRowId id) => id = ids[CurrentSlot()];
    }

    private int CurrentSlot() =>
        slot >= 0 && slot < rowsInBatch ? slot : throw new InvalidOperationException("The cursor is not on a row.");

    private void GetScore(ref VBuffer<float> score)
    {
        var editor = VBufferEditor.Create(ref score, parent.Scorer.ClassCount);
        batch.Probabilities(CurrentSlot()).CopyTo(editor.Values);
        score = editor.Commit();
    }

    private void GetPredictedLabel(ref uint key) => key = batch.PredictedKey(CurrentSlot());

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            input.Dispose();
            batch?.Dispose();
        }
        base.Dispose(disposing);
    }
}
