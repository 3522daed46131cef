using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using MlNetLstm.MlNetInternals;
using MlNetLstm.Network;
using MlNetLstm.Network.Fused;
using MlNetLstm.Persistence;
using MlNetLstm.Schema;
using MlNetLstm.Sequences;
using MlNetLstm.Training;

namespace MlNetLstm;

/// <summary>
/// Trains an LSTM classifier over a float vector read as a sequence. Create it with
/// <see cref="LstmClassifierCatalog.LstmClassifier(TransformsCatalog, LstmClassifierOptions)"/>.
/// </summary>
/// <remarks>
/// Input: a key-typed label column and a <c>Vector&lt;float&gt;</c> feature column: of known size, cut
/// into <see cref="LstmClassifierOptions.SequenceLength"/> steps, or of any size with
/// <see cref="LstmClassifierOptions.InputSize"/> values per step. Output: <c>Score</c>, a
/// <c>Vector&lt;float, classes&gt;</c> of softmax probabilities, and <c>PredictedLabel</c>, a key with the
/// label's key values. Rows with a missing label, a NaN/infinite value inside the sequence or no steps
/// are skipped in training and counted in the log; when they are more than half of the rows, Fit refuses.
/// The training rows are held in memory once.
/// </remarks>
public sealed class LstmClassifierEstimator : IEstimator<LstmClassifierTransformer>
{
    private readonly IHostEnvironment environment;
    private readonly LstmClassifierOptions options;

    internal LstmClassifierEstimator(IHostEnvironment environment, LstmClassifierOptions options)
    {
        this.environment = environment ?? throw new ArgumentNullException(nameof(environment));
        InputValidation.CheckOptions(options);
        this.options = options.Clone();
    }

    /// <summary>The columns Fit and Transform will produce; checks the input columns first.</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        var label = InputValidation.CheckLabel(inputSchema, options.LabelColumnName);
        InputValidation.CheckFeatures(inputSchema, options);
        return OutputColumns.Promise(inputSchema, options.ScoreColumnName, options.PredictedLabelColumnName, label);
    }

    /// <summary>Trains on <paramref name="input"/> and returns the fitted transformer.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A column is missing or of the wrong type, or a row's length is not a whole number of steps.</exception>
    /// <exception cref="InvalidOperationException">No usable training rows, or more than half of them unusable.</exception>
    /// <exception cref="OperationCanceledException">The MLContext was told to cancel.</exception>
    public LstmClassifierTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var (labelColumn, classCount) = InputValidation.CheckLabel(input.Schema, options.LabelColumnName);
        var (featureColumn, featureSize) = InputValidation.CheckFeatures(input.Schema, options.FeatureColumnName);
        int inputSize = InputValidation.InputSizeFor(options, featureColumn.Name, featureSize);
        var labelValues = LabelKeyValues.FromLabelColumn(labelColumn);
        if (labelValues is not null && labelValues.Count != classCount)
            throw new ArgumentOutOfRangeException("inputSchema",
                $"Label column '{labelColumn.Name}' has {classCount} keys but {labelValues.Count} key values (its KeyValues annotation): they must match.");
        var shape = new NetworkShape(inputSize, options.HiddenSize, options.NumberOfLayers, options.Bidirectional, classCount);

        using var host = new HostChannel(environment, nameof(LstmClassifierEstimator), "Training");
        int seed = options.Seed ?? host.Random.Next();
        var sequenceShape = new SequenceShape(inputSize, options.FeatureLayout, featureSize, Normalization: null);
        using var trainingSet = TrainingSet.Read(input, labelColumn, featureColumn, classCount,
            new SequenceDecoder(sequenceShape, featureColumn.Name), host.CheckAlive);
        CheckUsable(host, "training", trainingSet);
        var train = trainingSet.AllRows();
        TrainingRows? heldOut = null;
        if (options.ValidationFraction is double fraction)
        {
            (train, heldOut) = train.SplitStratified(fraction, seed, nameof(options.ValidationFraction),
                labelValues is null ? null : key => $"'{labelValues.TextOf((int)key)}'");
            host.Info($"Held out {heldOut.Count} of {trainingSet.Count} training rows for validation (ValidationFraction {fraction}, stratified by class).");
        }
        if (options.InputNormalization == InputNormalization.PerChannel)
        {
            // Learned from the rows trained on only; applied to every row read, held-out ones included.
            var statistics = ChannelStatistics.Measure(trainingSet.Sequences, train.Rows);
            for (int row = 0; row < trainingSet.Count; row++)
                statistics.Apply(trainingSet.Sequences.ValuesOf(row));
            sequenceShape = sequenceShape with { Normalization = statistics };
            host.Info("Per-channel normalisation: mean " + Describe(statistics.Mean) + ", deviation " + Describe(statistics.Deviation) + ".");
        }
        using var validationSet = ReadValidationSet(host, sequenceShape, classCount, labelValues);
        var validation = heldOut ?? validationSet?.AllRows();

        (LstmClassifierNetwork Network, LstmTrainingSummary Summary) trained;
        int fusedThreads = TorchRuntime.FusedTrainingThreads(options.NumberOfThreads, options.BatchSize);
        if (options.FusedKernel && FusedLstmTensors.Applies(shape, options.Dropout) && FusedFits(host, shape, train, fusedThreads))
        {
            // The kernel's threads do the training; libtorch only takes the optimiser's small steps, on one.
            using var kernel = new FusedLstmKernel(shape, fusedThreads);
            // No timed choice between all threads and one: a thread slowed by another process claims fewer
            // partitions. All threads measured 6 % faster idle than the choice (its one-thread windows) and
            // as fast beside a busy process. Tests still force the switching, to check it changes no bit.
            var tuner = options.ThreadTuning is null ? null : TrainingThreadTuner.For(options, fusedThreads, count => kernel.Threads = count);
            host.Info(tuner is null ? $"Training on {fusedThreads} thread(s) with the fused AVX-512 LSTM kernel." : $"Training on {tuner.Threads} threads or 1, whichever times faster, with the fused AVX-512 LSTM kernel.");
            trained = TorchRuntime.WithThreads(1,
                () => LstmTrainingLoop.Train(host, options, shape, train, validation, trainingSet.Skipped.Total, seed, tuner, kernel, ScoresFused(shape)));
        }
        else
        {
            int threads = TorchRuntime.TrainingThreads(options.NumberOfThreads, shape, options.BatchSize);
            var tuner = TrainingThreadTuner.For(options, threads);
            host.Info(tuner is null ? $"Training on {threads} libtorch thread(s)." : $"Training on {tuner.Threads} libtorch threads or 1, whichever times faster.");
            trained = TorchRuntime.WithThreads(tuner?.Threads ?? threads,
                () => LstmTrainingLoop.Train(host, options, shape, train, validation, trainingSet.Skipped.Total, seed, tuner, fusedScoring: ScoresFused(shape)));
        }
        var (network, summary) = trained;
        var columns = new ColumnNames(options.LabelColumnName, options.FeatureColumnName, options.ScoreColumnName, options.PredictedLabelColumnName);
        // New models score with the fused kernel when it computes their network, wherever they were trained.
        var scoring = ScoringKernelFor(shape);
        return new LstmClassifierTransformer(new LstmModel(columns, sequenceShape, shape, labelValues, network, summary) { Scoring = scoring });
    }

    /// <summary>
    /// Whether the fused kernel's workspaces fit the training rows: always for rows of one length; for rows
    /// of different lengths while they stay within the limit on <paramref name="threads"/> threads, else the
    /// log says why packed sequences train.
    /// </summary>
    private bool FusedFits(HostChannel host, NetworkShape shape, TrainingRows train, int threads)
    {
        if (train.AllSameLength)
            return true;
        long longest = Enumerable.Range(0, train.Count).Max(train.StepsAt);
        if (FusedLstmTensors.FitsRowsOfDifferentLengths(shape, longest, threads, options.FusedWorkspaceLimit))
            return true;
        host.Info(string.Create(CultureInfo.InvariantCulture,
            $"Rows of different lengths, up to {longest:N0} steps, would need {threads * (double)FusedLstmKernel.WorkspaceBytes(shape, longest) / (1 << 20):N1} MiB of the fused kernel's workspace (at most {options.FusedWorkspaceLimit / (double)(1 << 20):N1} MiB): training on packed sequences instead."));
        return false;
    }

    private ScoringKernel ScoringKernelFor(NetworkShape shape) =>
        options.FusedKernel && FusedLstmKernel.SupportsShape(shape) ? ScoringKernel.Fused : ScoringKernel.Libtorch;

    /// <summary>Whether the model will score with the fused kernel here: validation then uses the same forward pass.</summary>
    private bool ScoresFused(NetworkShape shape) => ScoringKernelFor(shape) == ScoringKernel.Fused && FusedLstmKernel.Supports(shape);

    private TrainingSet? ReadValidationSet(HostChannel host, SequenceShape input, int classCount, LabelKeyValues? trainingValues)
    {
        if (options.ValidationSet is not IDataView data)
            return null;
        const string parameter = nameof(options.ValidationSet);
        var (label, validationClasses) = InputValidation.CheckLabel(data.Schema, options.LabelColumnName, parameter);
        var (features, size) = InputValidation.CheckFeatures(data.Schema, options.FeatureColumnName, parameter);
        if (size is int known && known % input.InputSize != 0)
            throw new ArgumentOutOfRangeException(parameter,
                $"ValidationSet: feature column '{features.Name}' has {known} values, which is not a multiple of the input size {input.InputSize}.");
        if (validationClasses != classCount)
            throw new ArgumentOutOfRangeException(parameter,
                $"ValidationSet: label column '{options.LabelColumnName}' has {validationClasses} classes where the training data has {classCount}.");
        // Keys mean classes only through their values: a set keyed by its own mapping may number them differently.
        var values = LabelKeyValues.FromLabelColumn(label);
        if (trainingValues is not null && values is not null && !trainingValues.SameValuesAs(values))
            throw new ArgumentOutOfRangeException(parameter,
                $"ValidationSet: label column '{options.LabelColumnName}' maps its keys to other values than the training data; key it with the key mapping fitted on the training data.");
        var set = TrainingSet.Read(data, label, features, classCount, new SequenceDecoder(input, features.Name), host.CheckAlive);
        try
        {
            CheckUsable(host, "validation", set);
            return set;
        }
        catch
        {
            set.Dispose();
            throw;
        }
    }

    /// <summary>Reports skipped rows; refuses a set with no usable rows, or fewer usable rows than unusable ones.</summary>
    private void CheckUsable(HostChannel host, string role, TrainingSet set)
    {
        host.Info($"Read {set.Count} {role} rows (sequences of {set.MinSteps}–{set.MaxSteps} steps of {set.InputSize} values).");
        var skipped = set.Skipped;
        if (set.Count == 0 || skipped.Total > set.Count)
            throw new InvalidOperationException(
                $"{(set.Count == 0 ? "No" : "Too few")} usable {role} rows: {set.Count} usable, {skipped.Total} unusable ({skipped}). "
                + $"Label column '{options.LabelColumnName}' must hold a key and feature column '{options.FeatureColumnName}' a sequence of at least one step, "
                + "with no NaN or infinite value except trailing all-NaN padding steps.");
        if (skipped.Total > 0)
            host.Warning($"Skipped {skipped.Total} of {set.Count + skipped.Total} {role} rows: {skipped}.");
    }

    private static string Describe(float[] values) =>
        "[" + string.Join(", ", values.Take(8).Select(v => v.ToString("G4", System.Globalization.CultureInfo.InvariantCulture))) + (values.Length > 8 ? ", …]" : "]");
}
