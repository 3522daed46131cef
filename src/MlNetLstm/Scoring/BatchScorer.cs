using MlNetLstm.Network;
using static TorchSharp.torch;

namespace MlNetLstm.Scoring;

/// <summary>
/// Turns rows of features into class probabilities and predicted keys with one forward pass per batch.
/// Rows containing NaN or infinity get NaN probabilities and the missing key 0 rather than a guess.
/// </summary>
/// <remarks>Thread-safe: the network is only read, and grad mode and dispose scopes are per thread.</remarks>
internal sealed class BatchScorer
{
    private readonly LstmClassifierNetwork network;
    private readonly Action checkNotDisposed;

    public int FeatureLength { get; }
    public int ClassCount { get; }

    public BatchScorer(LstmClassifierNetwork network, Action checkNotDisposed)
    {
        this.network = network;
        this.checkNotDisposed = checkNotDisposed;
        FeatureLength = network.Shape.FeatureLength;
        ClassCount = network.Shape.ClassCount;
    }

    /// <param name="features">rows × FeatureLength values, row-major.</param>
    /// <param name="rows">how many rows to score.</param>
    /// <param name="probabilities">receives rows × ClassCount probabilities.</param>
    /// <param name="predictedKeys">receives rows 1-based keys (argmax + 1).</param>
    /// <param name="predictedIndices">scratch of at least rows values.</param>
    public void Score(ReadOnlySpan<float> features, int rows, Span<float> probabilities, Span<uint> predictedKeys, Span<long> predictedIndices)
    {
        checkNotDisposed();
        using (var scope = NewDisposeScope())
        using (var inference = inference_mode())
        {
            var input = empty(rows, FeatureLength);
            features[..(rows * FeatureLength)].CopyTo(input.FloatSpan());
            var probs = nn.functional.softmax(network.call(input), 1);
            probs.FloatSpan().CopyTo(probabilities);
            probs.argmax(1).LongSpan().CopyTo(predictedIndices);
        }
        for (int row = 0; row < rows; row++)
        {
            if (IsFinite(features.Slice(row * FeatureLength, FeatureLength)))
            {
                predictedKeys[row] = (uint)predictedIndices[row] + 1;
            }
            else
            {
                probabilities.Slice(row * ClassCount, ClassCount).Fill(float.NaN);
                predictedKeys[row] = 0;
            }
        }
    }

    private static bool IsFinite(ReadOnlySpan<float> values)
    {
        foreach (float v in values)
        {
            if (!float.IsFinite(v))
                return false;
        }
        return true;
    }
}
