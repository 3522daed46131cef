namespace MlNetLstm.Benchmarks;

/// <summary>Arithmetic of the MNIST LSTM, counting a multiply-add as two operations.</summary>
public static class Flops
{
    public const int Steps = 28, Inputs = 28, Hidden = 128, Classes = 10;

    /// <summary>One image forward: per step, four gates of Hidden × (Inputs + Hidden), plus the output layer.</summary>
    public static double ForwardPerSample => Steps * 4.0 * Hidden * (Inputs + Hidden) * 2 + Hidden * Classes * 2;

    /// <summary>Backward costs about twice the forward (gradients for inputs and for weights).</summary>
    public static double TrainPerSample => 3 * ForwardPerSample;
}
