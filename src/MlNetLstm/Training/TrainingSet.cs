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
    private readonly int[] labels;

    private TrainingSet(SequenceStore sequences, int[] labels, UnusableRows skipped)
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

    /// <summary>All rows, as a subset.</summary>
    public TrainingRows AllRows() => new(this, Enumerable.Range(0, Count).ToArray());

    public static TrainingSet Read(
        IDataView data, DataViewSchema.Column labelColumn, DataViewSchema.Column featureColumn,
        int classCount, SequenceDecoder decoder, Action checkAlive)
    {
        long? rowCount = data.GetRowCount();
        var sequences = new SequenceStore(decoder.InputSize, rowCount);
        var labels = new int[(int)Math.Clamp(rowCount ?? 256, 1, Array.MaxLength)];
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
                labels[index] = (int)(key - 1);
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

/// <summary>
/// Some rows of a <see cref="TrainingSet"/> — all of them, or the training or validation part of a split —
/// addressed by position 0 … Count-1.
/// </summary>
internal sealed record TrainingRows(TrainingSet Set, int[] Rows)
{
    public int Count => Rows.Length;

    public long LabelAt(int position) => Set.LabelOf(Rows[position]);

    public int StepsAt(int position) => Set.Sequences.StepsOf(Rows[position]);

    public bool AllSameLength => Rows.Select(row => Set.Sequences.StepsOf(row)).Distinct().Count() <= 1;

    /// <summary>The rows at <paramref name="positions"/> as network input and class indices, in the current dispose scope.</summary>
    public (SequenceBatch Sequences, Tensor Labels) Gather(long[] positions)
    {
        var rows = new long[positions.Length];
        var classes = new long[positions.Length];
        for (int i = 0; i < positions.Length; i++)
        {
            rows[i] = Rows[positions[i]];
            classes[i] = Set.LabelOf(Rows[positions[i]]);
        }
        return (Set.Sequences.Gather(rows), tensor(classes));
    }

    /// <summary>Rows per class, over <paramref name="classCount"/> classes.</summary>
    public long[] ClassCounts(int classCount)
    {
        var counts = new long[classCount];
        foreach (int row in Rows)
            counts[Set.LabelOf(row)]++;
        return counts;
    }

    /// <summary>
    /// Holds out <paramref name="fraction"/> of each class's rows, chosen by a seeded shuffle: the same
    /// seed holds out the same rows. Every class with rows keeps at least one training row.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A class would be left without training rows, or nothing would be held out.</exception>
    public (TrainingRows Train, TrainingRows Validation) SplitStratified(double fraction, int seed, string option, Func<long, string>? className = null)
    {
        var random = new Random(seed);
        var train = new List<int>();
        var validation = new List<int>();
        foreach (var group in Rows.GroupBy(row => Set.LabelOf(row)).OrderBy(g => g.Key))
        {
            var members = group.ToArray();
            random.Shuffle(members);
            int held = (int)Math.Round(members.Length * fraction, MidpointRounding.AwayFromZero);
            if (held >= members.Length)
                throw new ArgumentOutOfRangeException(option, fraction,
                    $"{option} {fraction} would hold out all {members.Length} training row(s) of class {className?.Invoke(group.Key) ?? $"key {group.Key + 1}"}, leaving it none to train on.");
            validation.AddRange(members.Take(held));
            train.AddRange(members.Skip(held));
        }
        if (validation.Count == 0)
            throw new ArgumentOutOfRangeException(option, fraction,
                $"{option} {fraction} holds out no rows of the {Count} training rows: use a larger fraction.");
        train.Sort();
        validation.Sort();
        return (this with { Rows = train.ToArray() }, this with { Rows = validation.ToArray() });
    }
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
