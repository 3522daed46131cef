using System.Numerics;
using Microsoft.ML.Data;

namespace MlNetLstm.Sequences;

/// <summary>Why a row of features cannot be read as a sequence.</summary>
internal enum RowProblem
{
    None,

    /// <summary>A NaN or infinite value inside the sequence (trailing all-NaN steps are padding, not this).</summary>
    NonFinite,

    /// <summary>No steps at all: an empty row, or only NaN padding.</summary>
    Empty,
}

/// <summary>
/// Reads rows of the feature column into step-major, normalised sequences — the one way a row becomes
/// network input, for training, validation and scoring alike. Trailing steps whose values are all NaN are
/// padding and are dropped. One decoder per reader: it keeps a scratch buffer.
/// </summary>
internal sealed class SequenceDecoder
{
    private readonly SequenceShape shape;
    private readonly string columnName;
    private float[] scratch = [];

    public SequenceDecoder(SequenceShape shape, string columnName)
    {
        this.shape = shape;
        this.columnName = columnName;
    }

    public int InputSize => shape.InputSize;

    /// <summary>
    /// Writes <paramref name="row"/> into the start of <paramref name="destination"/> (which must hold
    /// <c>row.Length</c> values) as step-major values, normalised, and counts its real steps.
    /// </summary>
    /// <returns>What makes the row unusable, or <see cref="RowProblem.None"/>.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The row's length is not a multiple of the input size.</exception>
    public RowProblem Decode(in VBuffer<float> row, Span<float> destination, out int steps)
    {
        int inputSize = shape.InputSize;
        int length = row.Length;
        if (length % inputSize != 0)
            throw new ArgumentOutOfRangeException(nameof(LstmClassifierOptions.InputSize),
                $"A row of feature column '{columnName}' has {length} values, which is not a multiple of InputSize {inputSize}: every row must hold whole steps of {inputSize} values.");
        var values = destination[..length];
        if (shape.Layout == FeatureLayout.StepMajor)
        {
            row.CopyTo(values);
        }
        else
        {
            if (scratch.Length < length)
                scratch = new float[length];
            var channelMajor = scratch.AsSpan(0, length);
            row.CopyTo(channelMajor);
            int totalSteps = length / inputSize;
            for (int c = 0; c < inputSize; c++)
            {
                var series = channelMajor.Slice(c * totalSteps, totalSteps);
                for (int t = 0; t < totalSteps; t++)
                    values[t * inputSize + c] = series[t];
            }
        }

        steps = length / inputSize;
        while (shape.TrailingNaNIsPadding && steps > 0 && AllNaN(values.Slice((steps - 1) * inputSize, inputSize)))
            steps--;
        if (steps == 0)
            return RowProblem.Empty;
        var real = values[..(steps * inputSize)];
        if (!AllFinite(real))
            return RowProblem.NonFinite;
        shape.Normalization?.Apply(real);
        return RowProblem.None;
    }

    private static bool AllNaN(ReadOnlySpan<float> step)
    {
        foreach (float value in step)
        {
            if (!float.IsNaN(value))
                return false;
        }
        return true;
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
