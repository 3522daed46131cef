using MlNetLstm.Network;
using MlNetLstm.Schema;
using MlNetLstm.Sequences;

namespace MlNetLstm.Persistence;

/// <summary>Column names the transformer reads and writes.</summary>
internal sealed record ColumnNames(string Label, string Features, string Score, string PredictedLabel);

/// <summary>
/// Everything a fitted classifier consists of; what a model file stores. <c>Summary</c> (how it was
/// trained) is null for models saved by MlNetLstm 0.1.0.
/// </summary>
internal sealed record LstmModel(
    ColumnNames Columns, SequenceShape Input, NetworkShape Shape, LabelKeyValues? LabelValues, LstmClassifierNetwork Network,
    LstmTrainingSummary? Summary)
{
    /// <summary>What computes its forward pass when it scores; libtorch for models of format versions 1 and 2.</summary>
    public ScoringKernel Scoring { get; init; } = ScoringKernel.Libtorch;
}

/// <summary>
/// What computes a model's forward pass when it scores. A model keeps the one it was saved with, so it
/// scores the same bits after every reload; models of earlier versions keep libtorch.
/// </summary>
internal enum ScoringKernel : byte
{
    /// <summary>libtorch's LSTM (oneDNN).</summary>
    Libtorch = 0,

    /// <summary>
    /// <see cref="Network.Fused.FusedLstmKernel"/> where the CPU has AVX-512, libtorch elsewhere; for
    /// networks the kernel supports.
    /// </summary>
    Fused = 1,
}
