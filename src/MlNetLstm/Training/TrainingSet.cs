using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetLstm.Sequences;
using static TorchSharp.torch;

namespace MlNetLstm.Training;

/// <summary>
/// Labelled sequences of an <see cref="IDataView"/> held in memory: one pass of a cursor fills a
/// <see cref="SequenceStore"/> and the 0-based class of each row; epochs then sample from memory.
/// </summary>
internal sealed class TrainingSet : IDisposable
{
    private readonly SequenceStore sequences;
    private readonly long[] labels;

    private TrainingSet(SequenceStore sequences, long[] labels, UnusableRows skipped)
    {
        this.sequences = sequences;
        this.labels = labels;
        Skipped = skipped;
    }

    public int Count => sequences.Count;
    public int InputSize => sequences.InputSize;
    public int MinSteps => sequences.MinSteps;
    public int MaxSteps => sequences.MaxSteps;

    /// <summary>Rows left out, by reason.</summary>
    public UnusableRows Skipped { get; }

    public SequenceStore Sequences => sequences;

    public long LabelOf(int row) => labels[row];

    /// <summary>The rows <paramref name="rows"/> as network input and class indices, in the current dispose scope.</summary>
    public (SequenceBatch Sequences, Tensor Labels) Gather(ReadOnlySpan<long> rows)
    {
        var classes = new long[rows.Length];
        for (int i = 0; i < rows.Length; i++)
            classes[i] = labels[rows[i]];
        return (sequences.Gather(rows), tensor(classes));
    }

    public static TrainingSet Read(
        IDataView data, DataViewSchema.Column labelColumn, DataViewSchema.Column featureColumn,
        int classCount, SequenceDecoder decoder, Action checkAlive)
    {
        var sequences = new SequenceStore(decoder.InputSize);
        var labels = new long[(int)Math.Clamp(data.GetRowCount() ?? 1024, 1, Array.MaxLength)];
        long missingLabel = 0, nonFinite = 0, empty = 0;
        try
        {
            using var cursor = data.GetRowCursor(new[] { labelColumn, featureColumn });
            var readKey = KeyReader(cursor, labelColumn);
            var getFeatures = cursor.GetGetter<VBuffer<float>>(featureColumn);
            VBuffer<float> row = default;
            while (cursor.MoveNext())
            {
                if ((cursor.Position & 1023) == 0)
                    checkAlive();
                ulong key = readKey();
                if (key == 0 || key > (ulong)classCount)
                {
                    missingLabel++;
                    continue;
                }
                getFeatures(ref row);
                var problem = decoder.Decode(row, sequences.Reserve(row.Length), out int steps);
                if (problem != RowProblem.None)
                {
                    if (problem == RowProblem.Empty) empty++; else nonFinite++;
                    continue;
                }
                int index = sequences.Commit(steps);
                if (index == labels.Length)
                    Array.Resize(ref labels, (int)Math.Min((long)index * 2, Array.MaxLength));
                labels[index] = (long)key - 1;
            }
        }
        catch
        {
            sequences.Dispose();
            throw;
        }
        return new TrainingSet(sequences, labels, new UnusableRows(missingLabel, nonFinite, empty));
    }

    /// <summary>Reads a key of any unsigned raw type as a 1-based ulong (0 is missing).</summary>
    private static Func<ulong> KeyReader(DataViewRowCursor cursor, DataViewSchema.Column column)
    {
        var raw = column.Type.RawType;
        if (raw == typeof(uint)) return Widen<uint>(cursor, column, v => v);
        if (raw == typeof(ushort)) return Widen<ushort>(cursor, column, v => v);
        if (raw == typeof(byte)) return Widen<byte>(cursor, column, v => v);
        if (raw == typeof(ulong)) return Widen<ulong>(cursor, column, v => v);
        throw new ArgumentOutOfRangeException("inputSchema", $"Label column '{column.Name}' has unsupported key type {column.Type}.");
    }

    private static Func<ulong> Widen<T>(DataViewRowCursor cursor, DataViewSchema.Column column, Func<T, ulong> widen)
    {
        var getter = cursor.GetGetter<T>(column);
        T value = default!;
        return () =>
        {
            getter(ref value);
            return widen(value);
        };
    }

    public void Dispose() => sequences.Dispose();
}

/// <summary>Rows a training or validation set left out, by reason.</summary>
internal sealed record UnusableRows(long MissingLabel, long NonFinite, long Empty)
{
    public long Total => MissingLabel + NonFinite + Empty;

    public override string ToString() => string.Join(", ", new[]
    {
        (MissingLabel, "with a missing label"),
        (NonFinite, "with a NaN or infinite value inside the sequence"),
        (Empty, "with no steps (empty, or only NaN padding)"),
    }.Where(r => r.Item1 > 0).Select(r => $"{r.Item1} {r.Item2}"));
}
