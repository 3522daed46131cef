using MlNetLstm.Network;
using MlNetLstm.Schema;
using MlNetLstm.Sequences;

namespace MlNetLstm.Persistence;

/// <summary>Column names the transformer reads and writes.</summary>
internal sealed record ColumnNames(string Label, string Features, string Score, string PredictedLabel);

/// <summary>Everything a fitted classifier consists of; what a model file stores.</summary>
internal sealed record LstmModel(
    ColumnNames Columns, SequenceShape Input, NetworkShape Shape, LabelKeyValues? LabelValues, LstmClassifierNetwork Network);
