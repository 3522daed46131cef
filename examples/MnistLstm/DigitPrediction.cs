namespace MnistLstm;

/// <summary>One test image with its true and predicted digit, for the console.</summary>
/// <param name="Pixels">Grey levels in [0, 1], row by row.</param>
/// <param name="Label">The true digit.</param>
/// <param name="Predicted">The digit the model predicted.</param>
public sealed record DigitPrediction(float[] Pixels, float Label, float Predicted)
{
    public bool IsCorrect => Label == Predicted;
}
