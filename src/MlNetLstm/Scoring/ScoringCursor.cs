using System.Runtime.ExceptionServices;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MlNetLstm.Scoring;

/// <summary>
/// Reads input rows ahead in batches (up to <see cref="BatchScorer.MaxBatchRows"/>, fewer when rows or
/// classes are large, and <see cref="FirstBatchRows"/> first), scores each in forward passes and serves
/// its rows one at a time. Two batches take turns: while one is scored on the scoring workers, the next
/// is read from the input, so the cores do not wait for the reader. Pass-through columns are buffered
/// with their batch; when neither scored column is asked for, rows go straight through.
/// </summary>
internal sealed class ScoringCursor : DataViewRowCursor
{
    private readonly ScoredDataView parent;
    private readonly DataViewRowCursor input;
    private readonly bool[] active;
    private readonly bool scoring;

    private readonly ValueGetter<DataViewRowId> inputId = null!;
    private readonly ValueGetter<VBuffer<float>> inputFeatures = null!;
    private VBuffer<float> featureRow;
    private readonly ReadAhead[] readAheads = [];

    // The batch being served, the one read after it (null: none), and a failure met while reading the
    // latter, thrown when its turn comes so that the rows before it are served first.
    private ReadAhead? current;
    private ReadAhead? following;
    private ExceptionDispatchInfo? readFailure;
    private ExceptionDispatchInfo? failure;
    private bool inputEnded;
    private int slot = -1;
    private long position = -1;

    public ScoringCursor(ScoredDataView parent, DataViewRowCursor input, bool[] active)
    {
        this.parent = parent;
        this.input = input;
        this.active = active;
        var columns = parent.Columns;
        scoring = active[columns.ScoreIndex] || active[columns.PredictedLabelIndex];
        if (!scoring)
            return;

        var made = new List<ReadAhead>(2);
        try
        {
            // The reader's memory budget is shared by its two batches.
            for (int i = 0; i < 2; i++)
                made.Add(new ReadAhead(parent.Scorer.CreateBatch(BatchScorer.MaxBatchRows, BatchScorer.ReadAheadBytes / 2), input, active));
            inputId = input.GetIdGetter();
            inputFeatures = input.GetGetter<VBuffer<float>>(input.Schema[columns.FeatureIndex]);
        }
        catch
        {
            made.ForEach(readAhead => readAhead.Dispose());
            throw;
        }
        readAheads = [.. made];
    }

    public override DataViewSchema Schema => parent.Schema;
    public override long Position => position;
    public override long Batch => scoring && slot >= 0 && current is not null ? current.Batches[slot] : input.Batch;

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
        if (current is not null && slot + 1 < current.Batch.Count)
        {
            slot++;
            position++;
            return true;
        }
        // A failure ends the cursor: later calls throw it again rather than skip the rows it lost.
        failure?.Throw();
        try
        {
            if (!NextBatch())
                return false;
        }
        catch (Exception e)
        {
            failure = ExceptionDispatchInfo.Capture(e);
            throw;
        }
        slot = 0;
        position++;
        return true;
    }

    /// <summary>Moves to the next scored batch, and reads the one after it while this one is scored.</summary>
    private bool NextBatch()
    {
        // The served batch's buffers are free again.
        var served = current;
        var next = following;
        current = null;
        following = null;
        slot = -1;
        if (next is null && MoreToRead)
        {
            // The workers wait while a cursor's first batch is read, so that batch is small when they score it.
            int rows = served is null && ScoringWorkers.Parallelism > 1 ? FirstBatchRows : int.MaxValue;
            next = ReadAndStartScoring(Other(served), rows);
        }
        if (next is null)
        {
            readFailure?.Throw();
            return false;
        }
        // Scored inline the batch is done already: reading another would only delay its rows.
        if (next.Batch.IsScoredElsewhere && MoreToRead)
        {
            try
            {
                following = ReadAndStartScoring(Other(next), int.MaxValue);
            }
            catch (Exception e)
            {
                readFailure = ExceptionDispatchInfo.Capture(e);
            }
        }
        next.Batch.FinishScoring();
        current = next;
        return true;
    }

    /// <summary>Whether the input may hold more rows to read: it has not ended, nor failed.</summary>
    private bool MoreToRead => !inputEnded && readFailure is null;

    /// <summary>The batch buffers that are not <paramref name="readAhead"/>'s.</summary>
    private ReadAhead Other(ReadAhead? readAhead) => readAhead == readAheads[0] ? readAheads[1] : readAheads[0];

    /// <summary>
    /// Rows of a cursor's first batch when it is scored on the workers: they start once these are read
    /// rather than a whole batch (the batches after it are read while the one before is scored).
    /// </summary>
    internal const int FirstBatchRows = 128;

    /// <summary>Fills <paramref name="readAhead"/> from the input, up to <paramref name="maxRows"/> rows, and starts scoring it; null when the input has no more rows.</summary>
    private ReadAhead? ReadAndStartScoring(ReadAhead readAhead, int maxRows)
    {
        var batch = readAhead.Batch;
        batch.Clear();
        while (batch.HasRoom && batch.Count < maxRows)
        {
            if (!input.MoveNext())
            {
                inputEnded = true;
                break;
            }
            int row = batch.Count;
            foreach (var column in readAhead.Columns)
                column?.Store(row);
            inputId(ref readAhead.Ids[row]);
            readAhead.Batches[row] = input.Batch;
            inputFeatures(ref featureRow);
            batch.Add(featureRow);
        }
        if (batch.Count == 0)
            return null;
        batch.StartScoring();
        return readAhead;
    }

    public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
    {
        if (!active[column.Index])
            throw new InvalidOperationException($"Column '{column.Name}' was not requested when this cursor was created.");
        var columns = parent.Columns;
        Delegate? getter;
        if (column.Index == columns.ScoreIndex)
            getter = (ValueGetter<VBuffer<float>>)GetScore;
        else if (column.Index == columns.PredictedLabelIndex)
            getter = (ValueGetter<uint>)GetPredictedLabel;
        else if (!scoring)
            return input.GetGetter<TValue>(input.Schema[column.Index]);
        else
            getter = BufferedGetter<TValue>(column.Index);
        return getter as ValueGetter<TValue> ?? throw new InvalidOperationException(
            $"Column '{column.Name}' holds {column.Type}; it cannot be read as {typeof(TValue).Name}.");
    }

    /// <summary>A pass-through column's getter, reading from whichever batch is being served.</summary>
    private ValueGetter<TValue>? BufferedGetter<TValue>(int index)
    {
        var first = readAheads[0].Columns[index]!.MakeGetter(CurrentSlot) as ValueGetter<TValue>;
        var second = readAheads[1].Columns[index]!.MakeGetter(CurrentSlot) as ValueGetter<TValue>;
        if (first is null || second is null)
            return null;
        return (ref TValue value) => (current == readAheads[0] ? first : second)(ref value);
    }

    public override ValueGetter<DataViewRowId> GetIdGetter()
    {
        if (!scoring)
            return input.GetIdGetter();
        return (ref DataViewRowId id) =>
        {
            int row = CurrentSlot();
            id = current!.Ids[row];
        };
    }

    private int CurrentSlot() =>
        current is not null && slot >= 0 && slot < current.Batch.Count ? slot : throw new InvalidOperationException("The cursor is not on a row.");

    private void GetScore(ref VBuffer<float> score)
    {
        int row = CurrentSlot();
        var editor = VBufferEditor.Create(ref score, parent.Scorer.ClassCount);
        current!.Batch.Probabilities(row).CopyTo(editor.Values);
        score = editor.Commit();
    }

    private void GetPredictedLabel(ref uint key)
    {
        int row = CurrentSlot();
        key = current!.Batch.PredictedKey(row);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            // Batches still being scored are waited for before their buffers are freed.
            foreach (var readAhead in readAheads)
                readAhead.Dispose();
            input.Dispose();
        }
        base.Dispose(disposing);
    }

    /// <summary>One batch's rows read ahead: the features being scored, their ids and pass-through values.</summary>
    private sealed class ReadAhead : IDisposable
    {
        public ReadAhead(ScoringBatch batch, DataViewRowCursor input, bool[] active)
        {
            Batch = batch;
            try
            {
                Columns = new BufferedColumn?[input.Schema.Count];
                foreach (var column in input.Schema)
                {
                    if (active[column.Index])
                        Columns[column.Index] = BufferedColumn.Create(input, column, batch.Capacity);
                }
            }
            catch
            {
                batch.Dispose();
                throw;
            }
            Ids = new DataViewRowId[batch.Capacity];
            Batches = new long[batch.Capacity];
        }

        public ScoringBatch Batch { get; }
        public BufferedColumn?[] Columns { get; }
        public DataViewRowId[] Ids { get; }

        // Each row keeps the upstream batch it came from: ML.NET restores the order of rows read by
        // parallel cursors from their Batch and Position.
        public long[] Batches { get; }

        public void Dispose() => Batch.Dispose();
    }
}
