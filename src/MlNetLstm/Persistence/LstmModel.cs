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
    LstmTrainingSummary? Summary);
