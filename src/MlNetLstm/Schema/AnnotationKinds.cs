using Microsoft.ML.Data;

namespace MlNetLstm.Schema;

/// <summary>
/// Names of the column annotations ML.NET's scorers and evaluators read. ML.NET keeps its own list
/// internal; the names themselves are its documented contract.
/// </summary>
internal static class AnnotationKinds
{
    public const string SlotNames = "SlotNames";
    public const string KeyValues = "KeyValues";
    public const string ScoreColumnSetId = "ScoreColumnSetId";
    public const string ScoreColumnKind = "ScoreColumnKind";
    public const string ScoreValueKind = "ScoreValueKind";
    public const string TrainingLabelValues = "TrainingLabelValues";

    /// <summary>The type of ScoreColumnSetId values, as ML.NET defines it.</summary>
    public static readonly KeyDataViewType ScoreColumnSetIdType = new(typeof(uint), int.MaxValue);
}
