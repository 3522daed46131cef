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

    /// <summary>The step count used when neither <see cref="SequenceLength"/> nor <see cref="InputSize"/> is set: 28, one MNIST row per step.</summary>
    public const int DefaultSequenceLength = 28;

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
    /// <c>training_iters</c>); the data is reshuffled each time it is exhausted. Null (the default) means
    /// 100,000 unless <see cref="Epochs"/> is set; setting both is an error. <see cref="long.MaxValue"/>
    /// trains until early stopping or <c>mlContext.CancelExecution()</c>.
    /// </summary>
    public long? TrainingSamples { get; set; }

    /// <summary>
    /// Passes over the training rows (those left after <see cref="ValidationFraction"/>): the alternative to
    /// <see cref="TrainingSamples"/>; setting both is an error. Default null.
    /// </summary>
    public int? Epochs { get; set; }

    /// <summary>
    /// When no <see cref="ValidationSet"/> is given, hold out this fraction of the training rows for
    /// validation, in (0, 1): stratified by class and seeded, so every class keeps training rows and the
    /// same seed holds out the same rows. Giving both is an error. Default null (no validation).
    /// </summary>
    public double? ValidationFraction { get; set; }

    /// <summary>
    /// Stop after this many validation evaluations in a row without a better validation loss; at least 1.
    /// Needs validation data. Whenever there is validation data, the weights with the best validation loss
    /// are the ones kept at the end, early stopping or not. Validation is evaluated once per epoch, or
    /// every <see cref="DisplayStep"/> batches when an epoch is longer than that. Default null.
    /// </summary>
    public int? EarlyStoppingPatience { get; set; }

    /// <summary>How the learning rate changes: constant (the default) or reduced on validation plateaus.</summary>
    public LearningRateSchedule LearningRateSchedule { get; set; } = LearningRateSchedule.Constant;

    /// <summary>What <see cref="LearningRateSchedule.ReduceOnPlateau"/> multiplies the rate by, in (0, 1). Default 0.5.</summary>
    public double LearningRateDecayFactor { get; set; } = 0.5;

    /// <summary>Validation evaluations without a better loss before <see cref="LearningRateSchedule.ReduceOnPlateau"/> reduces the rate; at least 1. Default 3.</summary>
    public int LearningRatePatience { get; set; } = 3;

    /// <summary>Clip the global norm of the gradients to this before each step (Keras' <c>clipnorm</c>). Default null (off).</summary>
    public double? GradientClipNorm { get; set; }

    /// <summary>How much each class counts in the loss: <see cref="MlNetLstm.ClassWeighting.None"/> (the default) or <see cref="MlNetLstm.ClassWeighting.Balanced"/>.</summary>
    public ClassWeighting ClassWeighting { get; set; } = ClassWeighting.None;

    /// <summary>The training budget when neither <see cref="TrainingSamples"/> nor <see cref="Epochs"/> is set: the reference's 100,000.</summary>
    public const long DefaultTrainingSamples = 100_000;

    /// <summary>
    /// Report progress every this many batches. Default 10. With validation data, reports come with each
    /// validation evaluation instead: once per epoch, or every this many batches when an epoch is longer.
    /// </summary>
    public int DisplayStep { get; set; } = 10;

    /// <summary>
    /// Seed for weight initialisation, shuffling and dropout. Null uses a seed drawn from the
    /// <see cref="MLContext"/>, so <c>new MLContext(seed: 1)</c> makes training repeatable.
    /// </summary>
    public int? Seed { get; set; }

    /// <summary>
    /// Optional held-out data with the same label and feature columns (keyed with the training data's key
    /// mapping). Progress reports carry its loss and accuracy, and the weights with the best validation
    /// loss are kept. Alternatively set <see cref="ValidationFraction"/>.
    /// </summary>
    public IDataView? ValidationSet { get; set; }

    /// <summary>
    /// Threads that train. Where the fused AVX-512 kernel trains (one unidirectional layer of a multiple
    /// of 16 units, no dropout, a CPU with AVX-512; rows of different lengths within a 1 GiB workspace), the threads that share each
    /// batch's 32-row partitions, one per core by default (at most one per partition); libtorch then runs
    /// the optimiser's steps and validation on one thread while Fit trains. Otherwise
    /// libtorch's intra-op threads while <c>Fit</c> trains. libtorch's setting is process-wide: other
    /// TorchSharp work in the process runs with it meanwhile; Fit's thread and the process-wide value are
    /// restored when Fit ends. Null (the default) picks 1 when one training step is small — batch × 4·hidden × (inputs + hidden) below 8
    /// million multiply-adds, where a second thread slowed training down on an idle 2-core machine and
    /// several times over on a busy one — and otherwise libtorch's own default (one per core) or one
    /// thread, whichever trains faster: Fit times windows of batches on each and re-checks as it goes, so
    /// a machine that becomes busy does not stall training. Results are the same on either count. A thread
    /// that first uses libtorch while Fit runs keeps the count in force at that moment.
    /// </summary>
    public int? NumberOfThreads { get; set; }

    /// <summary>Optional receiver of a progress report every <see cref="DisplayStep"/> batches.</summary>
    public IProgress<LstmTrainingProgress>? Progress { get; set; }

    /// <summary>Tests only: tune the thread count with these windows on two threads or more, whatever the step size.</summary>
    internal Network.TrainingThreadTuner.Settings? ThreadTuning { get; set; }

    /// <summary>Tests only: false trains and scores through libtorch even where the fused kernel applies.</summary>
    internal bool FusedKernel { get; set; } = true;

    /// <summary>Tests only: the fused kernel's workspace limit for rows of different lengths.</summary>
    internal long FusedWorkspaceLimit { get; set; } = Network.Fused.FusedLstmTensors.MaxWorkspaceBytesForRowsOfDifferentLengths;

    internal LstmClassifierOptions Clone() => (LstmClassifierOptions)MemberwiseClone();
}
