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

    /// <summary>
    /// Splits rows into groups that each make one batch of a single length within <paramref name="maxValues"/>
    /// values (at least one row each), shortest first — so padding costs nothing and a row's scores do
    /// not depend on which other rows it is read with.
    /// </summary>
    public static IEnumerable<int[]> EqualLengthGroups(IEnumerable<int> rows, Func<int, int> stepsOf, int inputSize, int maxRows, long maxValues)
    {
        foreach (var sameLength in rows.GroupBy(stepsOf).OrderBy(g => g.Key))
        {
            long rowValues = Math.Max(1L, (long)sameLength.Key * inputSize);
            int perBatch = (int)Math.Clamp(maxValues / rowValues, 1, maxRows);
            foreach (var chunk in sameLength.Chunk(perBatch))
                yield return chunk;
        }
    }
}
