using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetLstm.MlNetInternals;

namespace MlNetLstm.Schema;

/// <summary>
/// The two columns the classifier adds, annotated as ML.NET's own multiclass trainers annotate theirs so
/// that the evaluator, MapKeyToValue and prediction engines treat them alike: Score is a vector of class
/// probabilities, PredictedLabel a key of the label's type carrying its values.
/// </summary>
internal static class OutputColumns
{
    public const string MulticlassKind = "MulticlassClassification";
    public const string ScoreValue = "Score";
    public const string PredictedLabelValue = "PredictedLabel";

    /// <summary>The input columns followed by Score and PredictedLabel (which hide inputs of the same name).</summary>
    public static DataViewSchema Append(
        DataViewSchema input, string scoreName, string predictedLabelName, int classCount, LabelKeyValues? keyValues)
    {
        uint setId = NextScoreColumnSetId(input);

        var score = new DataViewSchema.Annotations.Builder();
        if (keyValues is not null)
        {
            keyValues.AddTextAnnotation(score, AnnotationKinds.SlotNames);
            keyValues.AddAnnotation(score, AnnotationKinds.TrainingLabelValues);
        }
        AddScorerAnnotations(score, setId, ScoreValue);

        var predicted = new DataViewSchema.Annotations.Builder();
        keyValues?.AddAnnotation(predicted, AnnotationKinds.KeyValues);
        AddScorerAnnotations(predicted, setId, PredictedLabelValue);

        var builder = new DataViewSchema.Builder();
        builder.AddColumns(input);
        builder.AddColumn(scoreName, new VectorDataViewType(NumberDataViewType.Single, classCount), score.ToAnnotations());
        builder.AddColumn(predictedLabelName, new KeyDataViewType(typeof(uint), classCount), predicted.ToAnnotations());
        return builder.ToSchema();
    }

    /// <summary>What <see cref="Append"/> will deliver, in the estimator's schema-shape terms.</summary>
    public static SchemaShape Promise(SchemaShape input, string scoreName, string predictedLabelName, SchemaShape.Column label)
    {
        var labelValues = InputValidation.TryFind(label.Annotations, AnnotationKinds.KeyValues, out var kv)
            && kv.Kind == SchemaShape.Column.VectorKind.Vector && IsStorable(kv.ItemType)
            ? kv : (SchemaShape.Column?)null;

        var scoreAnnotations = new List<SchemaShape.Column>();
        var predictedAnnotations = new List<SchemaShape.Column>();
        if (labelValues is SchemaShape.Column values)
        {
            scoreAnnotations.Add(SchemaShapes.Vector(AnnotationKinds.SlotNames, TextDataViewType.Instance));
            scoreAnnotations.Add(SchemaShapes.Vector(AnnotationKinds.TrainingLabelValues, values.ItemType));
            predictedAnnotations.Add(SchemaShapes.Vector(AnnotationKinds.KeyValues, values.ItemType));
        }
        scoreAnnotations.AddRange(ScorerAnnotationShapes());
        predictedAnnotations.AddRange(ScorerAnnotationShapes());

        var columns = input.ToDictionary(c => c.Name);
        columns[scoreName] = SchemaShapes.Column(scoreName, SchemaShape.Column.VectorKind.Vector,
            NumberDataViewType.Single, isKey: false, scoreAnnotations);
        columns[predictedLabelName] = SchemaShapes.Column(predictedLabelName, SchemaShape.Column.VectorKind.Scalar,
            NumberDataViewType.UInt32, isKey: true, predictedAnnotations);
        return new SchemaShape(columns.Values);
    }

    /// <summary>Key value types a saved model can carry (see <see cref="LabelKeyValues"/>).</summary>
    private static bool IsStorable(DataViewType itemType) =>
        itemType is TextDataViewType or NumberDataViewType or BooleanDataViewType;

    private static void AddScorerAnnotations(DataViewSchema.Annotations.Builder builder, uint setId, string valueKind)
    {
        builder.Add(AnnotationKinds.ScoreColumnSetId, AnnotationKinds.ScoreColumnSetIdType,
            (ref uint value) => value = setId);
        builder.Add(AnnotationKinds.ScoreColumnKind, TextDataViewType.Instance,
            (ref ReadOnlyMemory<char> value) => value = MulticlassKind.AsMemory());
        builder.Add(AnnotationKinds.ScoreValueKind, TextDataViewType.Instance,
            (ref ReadOnlyMemory<char> value) => value = valueKind.AsMemory());
    }

    private static IEnumerable<SchemaShape.Column> ScorerAnnotationShapes() => new[]
    {
        SchemaShapes.Column(AnnotationKinds.ScoreColumnSetId, SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.UInt32, isKey: true),
        SchemaShapes.Column(AnnotationKinds.ScoreColumnKind, SchemaShape.Column.VectorKind.Scalar, TextDataViewType.Instance, isKey: false),
        SchemaShapes.Column(AnnotationKinds.ScoreValueKind, SchemaShape.Column.VectorKind.Scalar, TextDataViewType.Instance, isKey: false),
    };

    /// <summary>Score column sets are numbered so chained scorers stay distinguishable, as ML.NET does.</summary>
    private static uint NextScoreColumnSetId(DataViewSchema input)
    {
        uint max = 0;
        foreach (var column in input)
        {
            if (column.Annotations.Schema.GetColumnOrNull(AnnotationKinds.ScoreColumnSetId)?.Type is KeyDataViewType { RawType: var raw }
                && raw == typeof(uint))
            {
                uint id = 0;
                column.Annotations.GetValue(AnnotationKinds.ScoreColumnSetId, ref id);
                max = Math.Max(max, id);
            }
        }
        return max + 1;
    }
}
