using static TorchSharp.torch;

namespace MlNetLstm.Sequences;

/// <summary>
/// Sequences as the network reads them, built the same way for training, validation and scoring:
/// <paramref name="Values"/> is [rows, steps, InputSize], step-major and normalised, each row padded with
/// zeros after its own length; <paramref name="Lengths"/> gives those lengths, or is null when every row
/// has all the steps (the fast path: no packing).
/// </summary>
internal sealed record SequenceBatch(Tensor Values, long[]? Lengths)
{
    public int Rows => (int)Values.shape[0];
}
