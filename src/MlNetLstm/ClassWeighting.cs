namespace MlNetLstm;

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
