namespace MlNetLstm;

/// <summary>One progress report of <see cref="LstmClassifierEstimator.Fit"/>, sent every display step.</summary>
/// <param name="Batch">Batches completed so far (1-based).</param>
/// <param name="TotalBatches">Batches the whole training will run.</param>
/// <param name="SamplesSeen">Training samples consumed so far (the reference's "Iter").</param>
/// <param name="Epoch">Passes over the training rows so far, fractional: 3.0 after three epochs.</param>
/// <param name="MinibatchLoss">Mean cross-entropy of the latest batch, computed in its training forward pass.</param>
/// <param name="MinibatchAccuracy">Fraction of the latest batch classified correctly in that pass.</param>
/// <param name="ValidationLoss">Mean cross-entropy on the validation set, when one is given.</param>
/// <param name="ValidationAccuracy">Accuracy on the validation set, when one is given.</param>
/// <param name="Elapsed">Training time so far.</param>
/// <param name="LearningRate">The learning rate the latest batch was trained with.</param>
/// <param name="IsBestSoFar">Whether this report's validation loss is the best so far (these weights are kept).</param>
public sealed record LstmTrainingProgress(
    long Batch,
    long TotalBatches,
    long SamplesSeen,
    double Epoch,
    double MinibatchLoss,
    double MinibatchAccuracy,
    double? ValidationLoss,
    double? ValidationAccuracy,
    TimeSpan Elapsed,
    double LearningRate = 0,
    bool IsBestSoFar = false)
{
    /// <summary>Training samples per second so far.</summary>
    public double SamplesPerSecond => Elapsed.TotalSeconds > 0 ? SamplesSeen / Elapsed.TotalSeconds : 0;

    /// <summary>A line in the reference's format, e.g. "Iter 1280, Minibatch Loss= 2.016, Training Accuracy= 0.31250".</summary>
    public override string ToString()
    {
        var line = FormattableString.Invariant(
            $"Iter {SamplesSeen}, Minibatch Loss= {MinibatchLoss:F6}, Training Accuracy= {MinibatchAccuracy:F5}");
        if (ValidationLoss is double vl && ValidationAccuracy is double va)
            line += FormattableString.Invariant($", Validation Loss= {vl:F6}, Validation Accuracy= {va:F5}{(IsBestSoFar ? " (best)" : "")}");
        return line;
    }
}
