using Microsoft.ML;
using Microsoft.ML.Data;

namespace MlNetLstm.Scoring;

internal static class FeatureRows
{
    /// <summary>A data view whose values disagree with its own schema is refused rather than misread.</summary>
    public static void CheckLength(in VBuffer<float> row, int expected, DataViewSchema.Column column)
    {
        if (row.Length != expected)
            throw new InvalidOperationException(
                $"A row of feature column '{column.Name}' has {row.Length} values where its type promises {expected}.");
    }
}
