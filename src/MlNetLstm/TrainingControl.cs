namespace MlNetLstm;

/// <summary>How the learning rate changes during training.</summary>
public enum LearningRateSchedule
{
    /// <summary><see cref="LstmClassifierOptions.LearningRate"/> throughout. The default.</summary>
    Constant,

    /// <summary>
    /// Multiplied by <see cref="LstmClassifierOptions.LearningRateDecayFactor"/> after
    /// <see cref="LstmClassifierOptions.LearningRatePatience"/> validation evaluations without a better
    /// validation loss (Keras' <c>ReduceLROnPlateau</c>). Needs validation data.
    /// </summary>
    ReduceOnPlateau,
}

/// <summary>How much each class counts in the training loss.</summary>
public enum ClassWeighting
{
    /// <summary>Every row counts the same. The default.</summary>
    None,

    /// <summary>
    /// Rows of class k count <c>rows / (classes × rows of class k)</c>, over the training rows, so every
    /// class weighs the same in total — for imbalanced data (Keras' <c>class_weight='balanced'</c>).
    /// </summary>
    Balanced,
}
