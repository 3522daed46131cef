using MlNetLstm.Network;
using MlNetLstm.Sequences;

namespace MlNetLstm.Training;

/// <summary>
/// How many rows of a training batch go through the network at once. A batch whose passes would need
/// native buffers too large for the C library to reuse is split into equal passes whose gradients add
/// up to the batch's; the optimiser still takes one step per batch.
/// </summary>
/// <remarks>
/// libtorch's LSTM training (oneDNN) allocates two work buffers per layer and pass of about
/// <see cref="WorkBufferBytesPerHiddenStep"/> bytes per row, step and hidden unit (measured: 38.5 MB for
/// 128 rows of 28 steps and 128 hidden units; 19.3 MB at 64 rows; 75.9 MB at 256 units). glibc returns
/// freed blocks above 32 MiB to the system at once, so such buffers are mapped and zero-filled afresh
/// on every batch; below it the same memory is reused. On the MNIST reference run (Fit, 2 threads, 2 cores)
/// two passes of 64 rows trained at 6,773–7,961 samples/s against 5,075–5,751 for one pass of 128 with
/// huge pages and 4,379–5,399 without. The split depends
/// only on the network and the batch, never on the machine, so results stay the same everywhere.
/// Packed batches of rows of different lengths are not split: libtorch trains them with its own LSTM,
/// not oneDNN (<c>ONEDNN_VERBOSE=1</c> on JapaneseVowels: oneDNN ran only for the batches of one length).
/// </remarks>
internal static class TrainingPasses
{
    /// <summary>Bytes of oneDNN's larger training work buffer per row, step and hidden unit (measured).</summary>
    internal const long WorkBufferBytesPerHiddenStep = 84;

    /// <summary>The largest work buffer aimed for: below glibc's 32 MiB ceiling for reusing freed memory, with room to spare.</summary>
    internal const long ReusableBufferBytes = 28L << 20;

    /// <summary>Passes smaller than this lose more to small matrix products than reused memory saves.</summary>
    internal const int MinimumRowsPerPass = 32;

    /// <summary>Rows per pass for <paramref name="batch"/>: all of them when it is packed, else as below.</summary>
    public static int RowsPerPass(SequenceBatch batch, NetworkShape shape) =>
        batch.Lengths is null ? RowsPerPass(batch.Rows, batch.Values.shape[1], shape) : batch.Rows;

    /// <summary>
    /// Rows per pass for a batch of <paramref name="rows"/> rows padded to <paramref name="steps"/> steps:
    /// all of them when their buffers are reusable already or splitting cannot make them so, otherwise the
    /// fewest equal passes whose buffers are.
    /// </summary>
    public static int RowsPerPass(int rows, long steps, NetworkShape shape)
    {
        long perRow = Math.Max(steps, 1) * shape.HiddenSize * WorkBufferBytesPerHiddenStep;
        long fitting = ReusableBufferBytes / perRow;
        if (rows <= fitting || fitting < MinimumRowsPerPass)
            return rows;
        int passes = (int)((rows + fitting - 1) / fitting);
        return (rows + passes - 1) / passes;
    }
}
