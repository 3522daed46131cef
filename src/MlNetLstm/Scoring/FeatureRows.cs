using System.Numerics;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MlNetLstm.Scoring;

/// <summary>Moving feature rows out of a data view, for training and for scoring alike.</summary>
internal static class FeatureRows
{
    /// <summary>
    /// Copies <paramref name="row"/> densely into <paramref name="destination"/>. A data view whose values
    /// disagree with its own schema is refused rather than misread.
    /// </summary>
    public static void CopyChecked(in VBuffer<float> row, Span<float> destination, DataViewSchema.Column column)
    {
        if (row.Length != destination.Length)
            throw new InvalidOperationException(
                $"A row of feature column '{column.Name}' has {row.Length} values where its type promises {destination.Length}.");
        row.CopyTo(destination);
    }

    /// <summary>True when no value is NaN or infinite: x·0 is 0 for every finite x and NaN otherwise.</summary>
    public static bool AllFinite(ReadOnlySpan<float> values)
    {
        var sum = Vector<float>.Zero;
        int i = 0;
        for (; i <= values.Length - Vector<float>.Count; i += Vector<float>.Count)
            sum += new Vector<float>(values[i..]) * Vector<float>.Zero;
        float tail = 0;
        for (; i < values.Length; i++)
            tail += values[i] * 0;
        return Vector.Dot(sum, Vector<float>.One) + tail == 0;
    }
}
