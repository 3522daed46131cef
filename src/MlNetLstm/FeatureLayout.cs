namespace MlNetLstm;

/// <summary>Where value (step t, channel c) sits in a feature vector of <c>steps × channels</c> values.</summary>
public enum FeatureLayout
{
    /// <summary>
    /// Element <c>t * channels + c</c>: all channels of step 0, then of step 1, … — an image read row by
    /// row, or what <c>LoadFromTsFile</c> produces. The default.
    /// </summary>
    StepMajor,

    /// <summary>
    /// Element <c>c * steps + t</c>: the whole series of channel 0, then of channel 1, … — what
    /// <c>Concatenate</c> of one vector column per sensor produces.
    /// </summary>
    ChannelMajor,
}
