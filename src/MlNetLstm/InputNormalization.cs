namespace MlNetLstm;

/// <summary>How the classifier scales its input before the LSTM reads it.</summary>
public enum InputNormalization
{
    /// <summary>Values go in as they are. The default (the MNIST reference feeds pixels ÷ 255).</summary>
    None,

    /// <summary>
    /// Each channel is shifted and scaled by its mean and standard deviation over every real (not
    /// padding) step of the training rows, learned at Fit and saved with the model, so
    /// <c>Transform</c>, prediction engines and a reloaded model apply the same scaling. A constant
    /// channel is only shifted.
    /// </summary>
    PerChannel,
}
