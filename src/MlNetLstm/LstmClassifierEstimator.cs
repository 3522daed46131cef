using Microsoft.ML;
using Microsoft.ML.Runtime;
using MlNetLstm.MlNetInternals;
using MlNetLstm.Network;
using MlNetLstm.Persistence;
using MlNetLstm.Schema;
using MlNetLstm.Training;

namespace MlNetLstm;

/// <summary>
/// Trains an LSTM classifier over a fixed-length float vector read as a sequence. Create it with
/// <see cref="LstmClassifierCatalog.LstmClassifier(TransformsCatalog, LstmClassifierOptions)"/>.
/// </summary>
/// <remarks>
/// Input: a key-typed label column and a known-size <c>Vector&lt;float&gt;</c> feature column whose
/// length is a multiple of <see cref="LstmClassifierOptions.SequenceLength"/>. Output: <c>Score</c>,
/// a <c>Vector&lt;float, classes&gt;</c> of softmax probabilities, and <c>PredictedLabel</c>, a key
/// with the label's key values. Rows with a missing label or a NaN/infinite feature are skipped in
/// training and counted in the log. The training rows are held in memory once as a float tensor.
/// </remarks>
public sealed class LstmClassifierEstimator : IEstimator<LstmClassifierTransformer>
{
    private readonly IHostEnvironment environment;
    private readonly LstmClassifierOptions options;

    internal LstmClassifierEstimator(IHostEnvironment environment, LstmClassifierOptions options)
    {
        this.environment = environment ?? throw new ArgumentNullException(nameof(environment));
        InputValidation.CheckOptions(options);
        TorchRuntime.EnsureConfigured();
        this.options = options.Clone();
    }

    /// <summary>The columns Fit and Transform will produce; checks the input columns first.</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        var label = InputValidation.CheckLabel(inputSchema, options.LabelColumnName);
        InputValidation.CheckFeatures(inputSchema, options.FeatureColumnName);
        return OutputColumns.Promise(inputSchema, options.ScoreColumnName, options.PredictedLabelColumnName, label);
    }

    /// <summary>Trains on <paramref name="input"/> and returns the fitted transformer.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A column is missing or of the wrong type.</exception>
    /// <exception cref="InvalidOperationException">No usable training rows.</exception>
    /// <exception cref="OperationCanceledException">The MLContext was told to cancel.</exception>
    public LstmClassifierTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var (labelColumn, classCount) = InputValidation.CheckLabel(input.Schema, options.LabelColumnName);
        var (featureColumn, featureLength) = InputValidation.CheckFeatures(input.Schema, options.FeatureColumnName, options.SequenceLength);
        var labelValues = LabelKeyValues.FromLabelColumn(labelColumn);
        var shape = new NetworkShape(featureLength, options.SequenceLength, options.HiddenSize,
            options.NumberOfLayers, options.Bidirectional, classCount);

        using var host = new HostChannel(environment, nameof(LstmClassifierEstimator), "Training");
        int seed = options.Seed ?? host.Random.Next();
        using var train = TrainingSet.Read(input, labelColumn, featureColumn, featureLength, classCount, host.CheckAlive);
        ReportRows(host, "training", train);
        if (train.Count == 0)
            throw new InvalidOperationException(
                $"No usable training rows: every row had a missing '{options.LabelColumnName}' or a NaN/infinite value in '{options.FeatureColumnName}' (or the data is empty).");
        using var validation = ReadValidationSet(host, shape, labelValues);

        var network = LstmTrainingLoop.Train(host, options, shape, train, validation, seed);
        var columns = new ColumnNames(options.LabelColumnName, options.FeatureColumnName, options.ScoreColumnName, options.PredictedLabelColumnName);
        return new LstmClassifierTransformer(environment, new LstmModel(columns, shape, labelValues, network));
    }

    private TrainingSet? ReadValidationSet(HostChannel host, NetworkShape shape, LabelKeyValues? trainingValues)
    {
        if (options.ValidationSet is not IDataView data)
            return null;
        const string parameter = nameof(options.ValidationSet);
        var (label, classCount) = InputValidation.CheckLabel(data.Schema, options.LabelColumnName, parameter);
        var (features, _) = InputValidation.CheckFeatures(data.Schema, options.FeatureColumnName, shape.SequenceLength, shape.FeatureLength, parameter);
        if (classCount != shape.ClassCount)
            throw new ArgumentOutOfRangeException(nameof(options.ValidationSet),
                $"ValidationSet: label column '{options.LabelColumnName}' has {classCount} classes where the training data has {shape.ClassCount}.");
        // Keys mean classes only through their values: a set keyed by its own mapping may number them differently.
        var values = LabelKeyValues.FromLabelColumn(label);
        if (trainingValues is not null && values is not null && !trainingValues.SameValuesAs(values))
            throw new ArgumentOutOfRangeException(nameof(options.ValidationSet),
                $"ValidationSet: label column '{options.LabelColumnName}' maps its keys to other values than the training data; key it with the key mapping fitted on the training data.");
        var set = TrainingSet.Read(data, label, features, shape.FeatureLength, shape.ClassCount, host.CheckAlive);
        ReportRows(host, "validation", set);
        return set;
    }

    private static void ReportRows(HostChannel host, string role, TrainingSet set)
    {
        host.Info($"Read {set.Count} {role} rows.");
        if (set.SkippedRows > 0)
            host.Warning($"Skipped {set.SkippedRows} {role} rows with a missing label or a NaN/infinite feature.");
    }
}
