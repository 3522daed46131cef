using Microsoft.ML;

namespace MlNetLstm;

/// <summary>
/// Settings for <see cref="LstmClassifierEstimator"/>. Defaults reproduce the classic LSTM-on-MNIST
/// example: 28 steps of 28 inputs, 128 hidden units, forget bias 1.0, Adam with learning rate 0.001,
/// batches of 128 and 100,000 training samples.
/// </summary>
public sealed class LstmClassifierOptions
{
    /// <summary>Name of the label column; it must be a key type (use <c>MapValueToKey</c>). Default "Label".</summary>
    public string LabelColumnName { get; set; } = "Label";

    /// <summary>
    /// Name of the features column: a vector of <see cref="float"/> read as a sequence of steps — of known
    /// size, or of variable size when <see cref="InputSize"/> is set. Default "Features".
    /// </summary>
    public string FeatureColumnName { get; set; } = "Features";

    /// <summary>Name of the output column of class probabilities. Default "Score".</summary>
    public string ScoreColumnName { get; set; } = "Score";

    /// <summary>Name of the output column holding the predicted key. Default "PredictedLabel".</summary>
    public string PredictedLabelColumnName { get; set; } = "PredictedLabel";

    /// <summary>
    /// Number of time steps a known-size feature vector is cut into; each step holds the vector's size
    /// divided by this, so the size must be a multiple of it. Null (the default) means 28 — one MNIST row
    /// per step — unless <see cref="InputSize"/> is set. Set one of the two.
    /// </summary>
    public int? SequenceLength { get; set; }

    /// <summary>
    /// Values per step (channels): the alternative to <see cref="SequenceLength"/>, needed for a feature
    /// column of variable size. Every row then holds as many steps as its length allows, and its length
    /// must be a multiple of this. Trailing steps whose values are all NaN are padding and are dropped.
    /// Default null.
    /// </summary>
    public int? InputSize { get; set; }

    /// <summary>
    /// Where value (step t, channel c) sits in the feature vector: <see cref="MlNetLstm.FeatureLayout.StepMajor"/>
    /// (element <c>t * channels + c</c>, the default) or <see cref="MlNetLstm.FeatureLayout.ChannelMajor"/>
    /// (element <c>c * steps + t</c>, what <c>Concatenate</c> of one vector column per sensor gives).
    /// </summary>
    public FeatureLayout FeatureLayout { get; set; } = FeatureLayout.StepMajor;

    /// <summary>
    /// Scaling learned at Fit and applied inside the model: <see cref="MlNetLstm.InputNormalization.None"/>
    /// (the default) or <see cref="MlNetLstm.InputNormalization.PerChannel"/> (each channel's mean and
    /// standard deviation over the real training steps).
    /// </summary>
    public InputNormalization InputNormalization { get; set; } = InputNormalization.None;

    /// <summary>The step count used when neither <see cref="SequenceLength"/> nor <see cref="InputSize"/> is set.</summary>
    internal const int DefaultSequenceLength = 28;

    /// <summary>Number of hidden units of each LSTM layer. Default 128.</summary>
    public int HiddenSize { get; set; } = 128;

    /// <summary>Number of stacked LSTM layers. Default 1.</summary>
    public int NumberOfLayers { get; set; } = 1;

    /// <summary>Whether each layer also reads the sequence backwards. Default false.</summary>
    public bool Bidirectional { get; set; }

    /// <summary>
    /// Dropout probability applied during training to the output of every LSTM layer (between layers and
    /// before the output layer). Must be in [0, 1). Default 0.
    /// </summary>
    public double Dropout { get; set; }

    /// <summary>
    /// Initial bias of the forget gate, as <c>forget_bias</c> of TensorFlow's BasicLSTMCell: a positive
    /// value makes the cell remember by default early in training. Default 1.0.
    /// </summary>
    public double ForgetBias { get; set; } = 1.0;

    /// <summary>Learning rate of the Adam optimizer. Default 0.001.</summary>
    public double LearningRate { get; set; } = 0.001;

    /// <summary>Rows per training batch. Default 128.</summary>
    public int BatchSize { get; set; } = 128;

    /// <summary>
    /// How many samples training consumes, rounded up to whole batches (the reference's
    /// <c>training_iters</c>). Epochs follow from it: the data is reshuffled each time it is exhausted.
    /// <see cref="long.MaxValue"/> trains until <c>mlContext.CancelExecution()</c>. Default 100,000.
    /// </summary>
    public long TrainingSamples { get; set; } = 100_000;

    /// <summary>Report progress every this many batches. Default 10.</summary>
    public int DisplayStep { get; set; } = 10;

    /// <summary>
    /// Seed for weight initialisation, shuffling and dropout. Null uses a seed drawn from the
    /// <see cref="MLContext"/>, so <c>new MLContext(seed: 1)</c> makes training repeatable.
    /// </summary>
    public int? Seed { get; set; }

    /// <summary>
    /// Optional held-out data with the same label and feature columns. When set, every progress report
    /// also carries the loss and accuracy on it.
    /// </summary>
    public IDataView? ValidationSet { get; set; }

    /// <summary>Optional receiver of a progress report every <see cref="DisplayStep"/> batches.</summary>
    public IProgress<LstmTrainingProgress>? Progress { get; set; }

    internal LstmClassifierOptions Clone() => (LstmClassifierOptions)MemberwiseClone();
}
