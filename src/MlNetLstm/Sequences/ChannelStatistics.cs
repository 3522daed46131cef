namespace MlNetLstm.Sequences;

/// <summary>
/// Per-channel mean and standard deviation learned from training sequences, applied as
/// <c>(x - mean) / deviation</c>. A channel that never varies keeps a deviation of 1, so it is only shifted.
/// </summary>
internal sealed class ChannelStatistics
{
    public ChannelStatistics(float[] mean, float[] deviation)
    {
        if (mean.Length != deviation.Length || mean.Length == 0)
            throw new ArgumentException("Mean and deviation need one value per channel.");
        Mean = mean;
        Deviation = deviation;
    }

    public float[] Mean { get; }
    public float[] Deviation { get; }
    public int Channels => Mean.Length;

    /// <summary>Normalises step-major values (steps × channels) in place.</summary>
    public void Apply(Span<float> values)
    {
        int channels = Channels;
        for (int start = 0; start < values.Length; start += channels)
        {
            var step = values.Slice(start, channels);
            for (int c = 0; c < step.Length; c++)
                step[c] = (step[c] - Mean[c]) / Deviation[c];
        }
    }

    /// <summary>Mean and deviation of every channel over all the steps of the <paramref name="rows"/> of <paramref name="sequences"/>.</summary>
    public static ChannelStatistics Measure(SequenceStore sequences, IReadOnlyList<int> rows)
    {
        int channels = sequences.InputSize;
        // Two passes in double: the one-pass sum of squares loses precision on large offsets.
        var sum = new double[channels];
        long steps = 0;
        foreach (int row in rows)
        {
            var values = sequences.ValuesOf(row);
            for (int i = 0; i < values.Length; i++)
                sum[i % channels] += values[i];
            steps += values.Length / channels;
        }
        var mean = sum.Select(s => steps > 0 ? s / steps : 0).ToArray();
        var squares = new double[channels];
        foreach (int row in rows)
        {
            var values = sequences.ValuesOf(row);
            for (int i = 0; i < values.Length; i++)
            {
                double d = values[i] - mean[i % channels];
                squares[i % channels] += d * d;
            }
        }
        var deviation = squares.Select(s => steps > 0 ? Math.Sqrt(s / steps) : 0)
            .Select(d => d > 1e-12 && double.IsFinite(d) ? (float)d : 1f).ToArray();
        return new ChannelStatistics(mean.Select(m => (float)m).ToArray(), deviation);
    }
}
