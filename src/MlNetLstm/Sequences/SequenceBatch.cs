using MlNetLstm.Network;
using static TorchSharp.torch;

namespace MlNetLstm.Sequences;

/// <summary>The step-major values of the <paramref name="index"/>-th row of a batch being built.</summary>
internal delegate ReadOnlySpan<float> RowValues(int index);

/// <summary>
/// Sequences as the network reads them, built the same way for training, validation and scoring:
/// <paramref name="Values"/> is [rows, steps, InputSize], step-major and normalised, each row padded with
/// zeros after its own length; <paramref name="Lengths"/> gives those lengths, or is null when every row
/// has all the steps (the fast path: no packing).
/// </summary>
internal sealed record SequenceBatch(Tensor Values, long[]? Lengths)
{
    public int Rows => (int)Values.shape[0];

    /// <summary>Rows <paramref name="start"/> to <paramref name="start"/> + <paramref name="count"/> as a batch of their own (a view, no copy).</summary>
    public SequenceBatch Slice(int start, int count) =>
        start == 0 && count == Rows ? this : new(Values.narrow(0, start, count), Lengths?[start..(start + count)]);

    /// <summary>
    /// Copies <paramref name="rows"/> rows into one batch, as tensors of the current dispose scope. Rows of
    /// one length fill it exactly; shorter rows are padded and their lengths recorded for packing.
    /// </summary>
    public static SequenceBatch Build(int inputSize, int rows, RowValues values)
    {
        int maxSteps = 0;
        bool uniform = true;
        for (int i = 0; i < rows; i++)
        {
            int steps = values(i).Length / inputSize;
            uniform &= i == 0 || steps == maxSteps;
            maxSteps = Math.Max(maxSteps, steps);
        }
        var tensor = uniform ? empty(rows, maxSteps, inputSize) : zeros(rows, maxSteps, inputSize);
        var destination = tensor.FloatSpan();
        long rowValues = (long)maxSteps * inputSize;
        long[]? lengths = uniform ? null : new long[rows];
        for (int i = 0; i < rows; i++)
        {
            var row = values(i);
            row.CopyTo(destination.Slice((int)(i * rowValues), row.Length));
            if (lengths is not null)
                lengths[i] = row.Length / inputSize;
        }
        return new SequenceBatch(tensor, lengths);
    }

    /// <summary>Rows of one length that make a forward pass of their own; fewer go into packed batches.</summary>
    public const int MinimumGroupRows = 8;

    /// <summary>
    /// Splits rows into forward passes: rows of one length together when there are at least
    /// <see cref="MinimumGroupRows"/> of them (the unpacked path: no padding at all), the rest sorted by
    /// length into packed batches of similar lengths. Each pass stays within <paramref name="maxValues"/>
    /// values of work (steps × <paramref name="valuesPerStep"/> per row) and <paramref name="maxRows"/> rows.
    /// </summary>
    /// <param name="rows">The rows to split.</param>
    /// <param name="stepsOf">Each row's length.</param>
    /// <param name="valuesPerStep">What a step costs in a forward pass: its inputs and the layers' outputs.</param>
    /// <param name="maxRows">Rows per pass at most.</param>
    /// <param name="maxValues">Work per pass at most (at least one row per pass).</param>
    public static IEnumerable<int[]> LengthGroups(IEnumerable<int> rows, Func<int, int> stepsOf, long valuesPerStep, int maxRows, long maxValues)
    {
        var leftovers = new List<int>();
        foreach (var sameLength in rows.GroupBy(stepsOf).OrderBy(g => g.Key))
        {
            var members = sameLength.ToArray();
            if (members.Length < MinimumGroupRows)
            {
                leftovers.AddRange(members);
                continue;
            }
            foreach (var chunk in Chunks(members, stepsOf, valuesPerStep, maxRows, maxValues))
                yield return chunk;
        }
        foreach (var chunk in Chunks(leftovers.ToArray(), stepsOf, valuesPerStep, maxRows, maxValues))
            yield return chunk;
    }

    /// <summary>Consecutive runs of rows (sorted by length) whose padded work fits the budget.</summary>
    private static IEnumerable<int[]> Chunks(int[] rows, Func<int, int> stepsOf, long valuesPerStep, int maxRows, long maxValues)
    {
        int start = 0;
        while (start < rows.Length)
        {
            int end = start + 1;
            // Sorted by length: the last row is the longest, so it sets the padded size of the pass.
            while (end < rows.Length && end - start < maxRows && (end - start + 1) * (long)stepsOf(rows[end]) * valuesPerStep <= maxValues)
                end++;
            yield return rows[start..end];
            start = end;
        }
    }
}

