using Microsoft.ML;
using Microsoft.ML.Data;

namespace TimeSeries;

/// <summary>
/// Folds each series into LSTM steps of several consecutive time steps, before the pipeline. The library
/// reads a row as steps of InputSize values, so a row's length must be a multiple of it: a series of L time
/// steps read k at a time loses its first L mod k time steps (at most k − 1; the end of a series, which the
/// LSTM's final state remembers best, is kept whole). Trailing all-NaN padding is dropped first, so padded
/// rows fold like unpadded ones.
/// </summary>
/// <remarks>
/// This happens in data preparation, outside the model, so the saved model stays a plain ML.NET pipeline
/// (MapValueToKey → LstmClassifier → MapKeyToValue) that any MLContext loads without registering anything;
/// data scored with it must be folded the same way (its InputSize is channels × values per step).
/// </remarks>
internal static class SeriesPreparation
{
    /// <summary>What folding did to a file's rows.</summary>
    /// <param name="Rows">Rows read.</param>
    /// <param name="TrimmedRows">Rows that lost time steps at their start.</param>
    /// <param name="MaxTrimmed">The most time steps one row lost.</param>
    public sealed record Folding(int Rows, int TrimmedRows, int MaxTrimmed);

    /// <summary>
    /// <paramref name="data"/> (Label, Features step-major, <paramref name="channels"/> values per time step) with
    /// each row's Features cut to whole groups of <paramref name="valuesPerStep"/> time steps. Unchanged when
    /// <paramref name="valuesPerStep"/> is 1.
    /// </summary>
    public static IDataView Fold(MLContext mlContext, IDataView data, int channels, int valuesPerStep, out Folding folding)
    {
        if (valuesPerStep == 1)
        {
            folding = new Folding((int)(data.GetRowCount() ?? 0), 0, 0);
            return data;
        }
        var labels = data.GetColumn<ReadOnlyMemory<char>>("Label").Select(l => l.ToString()).ToArray();
        var features = data.GetColumn<float[]>("Features").ToArray();
        int trimmedRows = 0, maxTrimmed = 0;
        var rows = new SeriesRow[labels.Length];
        int? commonLength = null;
        bool equalLength = true;
        for (int i = 0; i < rows.Length; i++)
        {
            var values = features[i];
            int steps = RealSteps(values, channels);
            int drop = steps % valuesPerStep;
            if (drop > 0)
            {
                trimmedRows++;
                maxTrimmed = Math.Max(maxTrimmed, drop);
            }
            var kept = values.AsSpan(drop * channels, (steps - drop) * channels).ToArray();
            commonLength ??= kept.Length;
            equalLength &= kept.Length == commonLength;
            rows[i] = new SeriesRow { Label = labels[i], Features = kept };
        }
        folding = new Folding(rows.Length, trimmedRows, maxTrimmed);

        // A known-size column when every row folds to the same length, as the loader gives for equal-length files.
        var schema = SchemaDefinition.Create(typeof(SeriesRow));
        if (equalLength && commonLength is int size)
            schema[nameof(SeriesRow.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, size);
        return mlContext.Data.LoadFromEnumerable(rows, schema);
    }

    /// <summary>Time steps before the trailing all-NaN padding.</summary>
    private static int RealSteps(float[] values, int channels)
    {
        int steps = values.Length / channels;
        while (steps > 0 && values.AsSpan((steps - 1) * channels, channels).ToArray().All(float.IsNaN))
            steps--;
        return steps;
    }

    private sealed class SeriesRow
    {
        public string Label { get; set; } = "";
        public float[] Features { get; set; } = [];
    }
}
