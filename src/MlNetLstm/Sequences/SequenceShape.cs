namespace MlNetLstm.Sequences;

/// <summary>
/// How a row of the feature column becomes a sequence: values per step, the order they come in, and the
/// per-channel normalisation learned at Fit. What a model file stores about its input, and the one
/// place training, scoring and persistence learn it from.
/// </summary>
/// <param name="InputSize">Values per step (channels).</param>
/// <param name="Layout">Where channel c of step t sits in a row.</param>
/// <param name="FeatureLength">The feature vector's size at Fit, or null when it was variable.</param>
/// <param name="Normalization">Per-channel statistics applied to every value, or null.</param>
/// <param name="TrailingNaNIsPadding">
/// Whether trailing all-NaN steps are padding to drop. False only for models written by MlNetLstm 0.1.0,
/// which scored any NaN as a missing prediction and must keep scoring as they did.
/// </param>
internal sealed record SequenceShape(
    int InputSize, FeatureLayout Layout, int? FeatureLength, ChannelStatistics? Normalization, bool TrailingNaNIsPadding = true)
{
    /// <summary>Steps of the training rows when they all had one length, else null.</summary>
    public int? SequenceLength => FeatureLength / InputSize;
}
