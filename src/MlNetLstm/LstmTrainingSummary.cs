namespace MlNetLstm;

/// <summary>
/// How a classifier was trained: what it read, how long it ran and, when it had validation data, which
/// batch its weights come from. Saved with the model; null for models saved by MlNetLstm 0.1.0.
/// </summary>
/// <param name="TrainingRows">Rows it trained on (after any held-out validation fraction).</param>
/// <param name="SkippedRows">Training rows left out as unusable (missing label, NaN or infinity inside, no steps).</param>
/// <param name="ValidationRows">Rows it validated on; 0 without validation data.</param>
/// <param name="Batches">Batches it ran.</param>
/// <param name="Epochs">Passes over the training rows it ran, fractional.</param>
/// <param name="KeptBatch">The batch after which the kept weights were taken: the best validation loss, or the last batch.</param>
/// <param name="KeptEpoch">Passes over the training rows by then, fractional.</param>
/// <param name="BestValidationLoss">The kept weights' validation loss, when there was validation data.</param>
/// <param name="BestValidationAccuracy">The kept weights' validation accuracy, when there was validation data.</param>
/// <param name="StoppedEarly">Whether early stopping ended training before its budget.</param>
/// <param name="FinalLearningRate">The learning rate at the end (lower than the start after reductions on plateaus).</param>
public sealed record LstmTrainingSummary(
    int TrainingRows,
    long SkippedRows,
    int ValidationRows,
    long Batches,
    double Epochs,
    long KeptBatch,
    double KeptEpoch,
    double? BestValidationLoss,
    double? BestValidationAccuracy,
    bool StoppedEarly,
    double FinalLearningRate)
{
    /// <summary>One line for logs, e.g. "ran 40 epochs (1,240 batches); kept epoch 31.0 (batch 961): validation loss 0.123, accuracy 0.970".</summary>
    public override string ToString()
    {
        var text = FormattableString.Invariant($"ran {Epochs:0.##} epochs ({Batches:N0} batches) on {TrainingRows:N0} rows");
        if (SkippedRows > 0)
            text += FormattableString.Invariant($" ({SkippedRows:N0} unusable rows skipped)");
        if (BestValidationLoss is double loss)
            text += FormattableString.Invariant($"; kept the weights of epoch {KeptEpoch:0.##} (batch {KeptBatch:N0}): validation loss {loss:F4}, accuracy {BestValidationAccuracy:F4} on {ValidationRows:N0} rows");
        if (StoppedEarly)
            text += "; stopped early";
        return text;
    }
}
