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
