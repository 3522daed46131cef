using MlNetLstm.Sequences;
using static TorchSharp.torch;

namespace MlNetLstm.Network.Fused;

/// <summary>
/// <see cref="FusedLstmKernel"/> on the network's TorchSharp tensors, in place of libtorch's LSTM. Training:
/// the kernel reads the weights and writes their gradients in place, and libtorch's optimiser takes the
/// step as usual. Scoring and validation: logits of a batch as a tensor.
/// </summary>
internal static class FusedLstmTensors
{
    /// <summary>Whether a fit trains through the kernel: a network it supports, and no dropout (the kernel has none).</summary>
    public static bool Applies(NetworkShape shape, double dropout) => FusedLstmKernel.Supports(shape) && dropout == 0;

    /// <summary>
    /// The most the kernel's workspaces may hold when rows have different lengths. Each partition of 32
    /// rows runs to its longest row, so one long row makes 31 short ones cost as much; packed sequences
    /// hold only real steps, slower but in less memory.
    /// </summary>
    public const long MaxWorkspaceBytesForRowsOfDifferentLengths = 1L << 30;

    /// <summary>
    /// Whether rows of different lengths, the longest of <paramref name="longestRow"/> steps, train through
    /// the kernel on <paramref name="threads"/> threads: while their workspaces stay within
    /// <paramref name="limit"/> bytes.
    /// </summary>
    public static bool FitsRowsOfDifferentLengths(NetworkShape shape, long longestRow, int threads, long limit = MaxWorkspaceBytesForRowsOfDifferentLengths) =>
        FusedLstmKernel.WorkspaceBytes(shape, longestRow) <= limit / threads;

    /// <summary>
    /// Sets the network's gradients to those of the batch's mean cross-entropy (weighted by class when
    /// <paramref name="classWeights"/> is given, as libtorch's <c>cross_entropy</c>); returns the loss and
    /// the rows predicted right.
    /// </summary>
    public static (double Loss, long Correct) SetGradients(
        FusedLstmKernel kernel, LstmClassifierNetwork network, SequenceBatch batch, Tensor labels, Tensor? classWeights)
    {
        using var scope = NewDisposeScope();
        var order = ParametersOf(network);
        var gradients = order.Select(GradientOf).ToArray();
        var values = batch.Values.contiguous();
        var labelValues = labels.contiguous().LongSpan();
        var rowWeights = RowWeights(labelValues, classWeights);
        return kernel.Train(Spans(order), values.FloatSpan(), batch.Rows, (int)values.shape[1], batch.Lengths, labelValues, rowWeights, Spans(gradients));
    }

    /// <summary>Logits [rows, classes] of a batch, from a kernel made by <see cref="FusedLstmKernel.ForScoring"/>.</summary>
    public static Tensor Logits(FusedLstmKernel kernel, SequenceBatch batch, int classes)
    {
        var values = batch.Values.contiguous();
        var logits = empty(batch.Rows, classes);
        kernel.Score(values.FloatSpan(), batch.Rows, (int)values.shape[1], batch.Lengths, logits.FloatSpan());
        return logits;
    }

    /// <summary>Views of the network's weights, valid while it lives.</summary>
    public static FusedLstmKernel.Parameters WeightsOf(LstmClassifierNetwork network) => Spans(ParametersOf(network));

    /// <summary>The kernel's six parameters in its order, as the model file names them.</summary>
    private static Tensor[] ParametersOf(LstmClassifierNetwork network)
    {
        var named = network.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter);
        return network.Shape.Weights.Select(w => named[w.Name]).ToArray();
    }

    private static FusedLstmKernel.Parameters Spans(Tensor[] p) =>
        new(p[0].FloatSpan(), p[1].FloatSpan(), p[2].FloatSpan(), p[3].FloatSpan(), p[4].FloatSpan(), p[5].FloatSpan());

    private static Tensor GradientOf(Tensor parameter)
    {
        if (parameter.grad is Tensor gradient)
            return gradient;
        parameter.grad = zeros_like(parameter);
        return parameter.grad!;
    }

    /// <summary>1/rows each, or weight[label] / Σ weight[label] as libtorch's weighted mean.</summary>
    private static float[] RowWeights(ReadOnlySpan<long> labels, Tensor? classWeights)
    {
        var rowWeights = new float[labels.Length];
        if (classWeights is null)
        {
            Array.Fill(rowWeights, 1f / labels.Length);
            return rowWeights;
        }
        var perClass = classWeights.contiguous().FloatSpan();
        double total = 0;
        for (int r = 0; r < labels.Length; r++)
        {
            if (labels[r] < 0 || labels[r] >= perClass.Length)
                throw new ArgumentOutOfRangeException(nameof(labels), $"label {labels[r]} is not one of the {perClass.Length} classes.");
            total += perClass[(int)labels[r]];
        }
        for (int r = 0; r < labels.Length; r++)
            rowWeights[r] = (float)(perClass[(int)labels[r]] / total);
        return rowWeights;
    }
}
