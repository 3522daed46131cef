using Microsoft.ML;
using Microsoft.ML.Data;

namespace MlNetLstm.Schema;

/// <summary>
/// Checks options and input columns before any work starts. Schema problems throw
/// <see cref="ArgumentOutOfRangeException"/> naming the column and what was expected.
/// </summary>
internal static class InputValidation
{
    private const string InputSchema = "inputSchema";

    public static void CheckOptions(LstmClassifierOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        CheckName(options.LabelColumnName, nameof(options.LabelColumnName));
        CheckName(options.FeatureColumnName, nameof(options.FeatureColumnName));
        CheckName(options.ScoreColumnName, nameof(options.ScoreColumnName));
        CheckName(options.PredictedLabelColumnName, nameof(options.PredictedLabelColumnName));
        if (options.ScoreColumnName == options.PredictedLabelColumnName)
            throw new ArgumentException(
                $"ScoreColumnName and PredictedLabelColumnName must differ (both are '{options.ScoreColumnName}').",
                nameof(options.PredictedLabelColumnName));
        if (options.SequenceLength is int sequenceLength)
            Positive(sequenceLength, nameof(options.SequenceLength));
        if (options.InputSize is int inputSize)
            Positive(inputSize, nameof(options.InputSize));
        Defined(options.FeatureLayout, nameof(options.FeatureLayout));
        Defined(options.InputNormalization, nameof(options.InputNormalization));
        if (options.NumberOfThreads is int threads)
            Positive(threads, nameof(options.NumberOfThreads));
        Positive(options.HiddenSize, nameof(options.HiddenSize));
        Positive(options.NumberOfLayers, nameof(options.NumberOfLayers));
        Positive(options.BatchSize, nameof(options.BatchSize));
        if (options.TrainingSamples is long samples)
            Positive(samples, nameof(options.TrainingSamples));
        if (options.Epochs is int epochs)
            Positive(epochs, nameof(options.Epochs));
        if (options.TrainingSamples is not null && options.Epochs is not null)
            throw new ArgumentException("Set TrainingSamples or Epochs, not both.", nameof(options.Epochs));
        if (options.ValidationFraction is double fraction && !(fraction > 0 && fraction < 1))
            throw new ArgumentOutOfRangeException(nameof(options.ValidationFraction), fraction, "ValidationFraction must be in (0, 1).");
        if (options.ValidationFraction is not null && options.ValidationSet is not null)
            throw new ArgumentException("Set ValidationSet or ValidationFraction, not both.", nameof(options.ValidationFraction));
        bool validates = options.ValidationFraction is not null || options.ValidationSet is not null;
        if (options.EarlyStoppingPatience is int patience)
        {
            Positive(patience, nameof(options.EarlyStoppingPatience));
            if (!validates)
                throw new ArgumentException("EarlyStoppingPatience needs validation data: set ValidationSet or ValidationFraction.", nameof(options.EarlyStoppingPatience));
        }
        Defined(options.LearningRateSchedule, nameof(options.LearningRateSchedule));
        if (options.LearningRateSchedule == LearningRateSchedule.ReduceOnPlateau && !validates)
            throw new ArgumentException("LearningRateSchedule.ReduceOnPlateau needs validation data: set ValidationSet or ValidationFraction.", nameof(options.LearningRateSchedule));
        if (!(options.LearningRateDecayFactor > 0 && options.LearningRateDecayFactor < 1))
            throw new ArgumentOutOfRangeException(nameof(options.LearningRateDecayFactor), options.LearningRateDecayFactor, "LearningRateDecayFactor must be in (0, 1).");
        Positive(options.LearningRatePatience, nameof(options.LearningRatePatience));
        if (options.GradientClipNorm is double clip && !(clip > 0 && double.IsFinite(clip)))
            throw new ArgumentOutOfRangeException(nameof(options.GradientClipNorm), clip, "GradientClipNorm must be a positive finite number.");
        Defined(options.ClassWeighting, nameof(options.ClassWeighting));
        Positive(options.DisplayStep, nameof(options.DisplayStep));
        if (!(options.LearningRate > 0) || double.IsInfinity(options.LearningRate))
            throw new ArgumentOutOfRangeException(nameof(options.LearningRate), options.LearningRate,
                "LearningRate must be a positive finite number.");
        if (!(options.Dropout >= 0 && options.Dropout < 1))
            throw new ArgumentOutOfRangeException(nameof(options.Dropout), options.Dropout,
                "Dropout must be in [0, 1).");
        if (!double.IsFinite(options.ForgetBias))
            throw new ArgumentOutOfRangeException(nameof(options.ForgetBias), options.ForgetBias,
                "ForgetBias must be a finite number.");
    }

    /// <summary>The label column and its class count; it must be a key type with at least two keys.</summary>
    /// <param name="schema">The data's schema.</param>
    /// <param name="name">The label column's name.</param>
    /// <param name="parameter">What the data was passed as, named in the exception.</param>
    public static (DataViewSchema.Column Column, int ClassCount) CheckLabel(DataViewSchema schema, string name, string parameter = InputSchema)
    {
        var column = Find(schema, name, "label", "a key type (use MapValueToKey)", parameter);
        if (column.Type is not KeyDataViewType key)
            throw Mismatch("label", name, "a key type (use MapValueToKey)", column.Type, parameter);
        if (key.Count < 2)
            throw new ArgumentOutOfRangeException(parameter,
                $"Label column '{name}' has {key.Count} classes: at least 2 are needed to train a classifier.");
        if (key.Count > int.MaxValue)
            throw new ArgumentOutOfRangeException(parameter,
                $"Label column '{name}' has {key.Count} classes: too many; a classifier supports at most {int.MaxValue}.");
        return (column, (int)key.Count);
    }

    /// <summary>The features column and its size: a vector of float, of known size (returned) or variable (null).</summary>
    public static (DataViewSchema.Column Column, int? Size) CheckFeatures(DataViewSchema schema, string name, string parameter = InputSchema)
    {
        const string expected = "a vector of Single";
        var column = Find(schema, name, "feature", expected, parameter);
        if (column.Type is not VectorDataViewType vector || vector.ItemType != NumberDataViewType.Single)
            throw Mismatch("feature", name, expected, column.Type, parameter);
        return (column, vector.IsKnownSize ? vector.Size : null);
    }

    /// <summary>
    /// Values per step for a feature column of <paramref name="size"/> values (null: variable size):
    /// <see cref="LstmClassifierOptions.InputSize"/> when set, else the size cut into
    /// <see cref="LstmClassifierOptions.SequenceLength"/> steps (28 by default).
    /// </summary>
    public static int InputSizeFor(LstmClassifierOptions options, string name, int? size)
    {
        if (options.InputSize is int inputSize)
        {
            if (size is int known && known % inputSize != 0)
                throw new ArgumentOutOfRangeException(nameof(options.InputSize),
                    $"Feature column '{name}' has {known} values, which is not a multiple of InputSize {inputSize}.");
            if (options.SequenceLength is int steps && (size is null || steps * (long)inputSize != size))
                throw new ArgumentOutOfRangeException(nameof(options.SequenceLength),
                    $"SequenceLength {steps} and InputSize {inputSize} disagree with feature column '{name}' of {(size is int n ? $"{n} values" : "variable size")}: set only InputSize.");
            return inputSize;
        }
        if (size is not int length)
            throw new ArgumentOutOfRangeException(nameof(options.InputSize),
                $"Feature column '{name}' is a vector of variable size: set InputSize, the number of values per step.");
        int sequenceLength = options.SequenceLength ?? LstmClassifierOptions.DefaultSequenceLength;
        if (length % sequenceLength != 0)
            throw new ArgumentOutOfRangeException(InputSchema,
                $"Feature column '{name}' has {length} values, which is not a multiple of SequenceLength {sequenceLength}.");
        return length / sequenceLength;
    }

    /// <summary>A fitted model reads any float vector whose known size is a whole number of steps.</summary>
    public static DataViewSchema.Column CheckScoringFeatures(DataViewSchema schema, string name, int inputSize)
    {
        var (column, size) = CheckFeatures(schema, name);
        if (size is int known && known % inputSize != 0)
            throw new ArgumentOutOfRangeException(InputSchema,
                $"Feature column '{name}' has {known} values, which is not a multiple of the model's InputSize {inputSize}.");
        return column;
    }

    /// <summary>The same checks on the schema shape an estimator sees (sizes are unknown there).</summary>
    public static SchemaShape.Column CheckLabel(SchemaShape shape, string name)
    {
        if (!TryFind(shape, name, out var column))
            throw Missing("label", name, "a key type (use MapValueToKey)");
        if (!column.IsKey || column.Kind != SchemaShape.Column.VectorKind.Scalar)
            throw new ArgumentOutOfRangeException(InputSchema,
                $"Label column '{name}' must be a key type (use MapValueToKey), but is {Describe(column)}.");
        return column;
    }

    public static void CheckFeatures(SchemaShape shape, LstmClassifierOptions options)
    {
        string name = options.FeatureColumnName;
        if (!TryFind(shape, name, out var column))
            throw Missing("feature", name, "a vector of Single");
        if (column.Kind == SchemaShape.Column.VectorKind.Scalar || column.ItemType != NumberDataViewType.Single || column.IsKey)
            throw new ArgumentOutOfRangeException(InputSchema,
                $"Feature column '{name}' must be a vector of Single, but is {Describe(column)}.");
        if (column.Kind == SchemaShape.Column.VectorKind.VariableVector && options.InputSize is null)
            throw new ArgumentOutOfRangeException(nameof(options.InputSize),
                $"Feature column '{name}' is a vector of variable size: set InputSize, the number of values per step.");
    }

    /// <summary>The last column of that name, as SchemaShape's own (internal) lookup does.</summary>
    public static bool TryFind(SchemaShape shape, string name, out SchemaShape.Column column)
    {
        column = shape.LastOrDefault(c => c.Name == name);
        return column.Name == name;
    }

    private static DataViewSchema.Column Find(DataViewSchema schema, string name, string role, string expected, string parameter) =>
        schema.GetColumnOrNull(name) is { IsHidden: false } column ? column : throw Missing(role, name, expected, parameter);

    private static ArgumentOutOfRangeException Missing(string role, string name, string expected, string parameter = InputSchema) =>
        new(parameter, $"The input has no {role} column '{name}' (expected {expected}).");

    private static ArgumentOutOfRangeException Mismatch(string role, string name, string expected, DataViewType actual, string parameter) =>
        new(parameter, $"The {role} column '{name}' must be {expected}, but is {actual}.");

    private static string Describe(SchemaShape.Column column)
    {
        string item = column.IsKey ? $"Key<{column.ItemType}>" : $"{column.ItemType}";
        return column.Kind switch
        {
            SchemaShape.Column.VectorKind.Scalar => item,
            SchemaShape.Column.VectorKind.Vector => $"Vector<{item}>",
            _ => $"a variable-length Vector<{item}>",
        };
    }

    private static void CheckName(string? name, string option)
    {
        if (string.IsNullOrWhiteSpace(name))
            throw new ArgumentException($"{option} must name a column.", option);
    }

    private static void Defined<T>(T value, string option) where T : struct, Enum
    {
        if (!Enum.IsDefined(value))
            throw new ArgumentOutOfRangeException(option, value, $"{option} must be one of {string.Join(", ", Enum.GetNames<T>())}.");
    }

    private static void Positive(long value, string option)
    {
        if (value <= 0)
            throw new ArgumentOutOfRangeException(option, value, $"{option} must be positive.");
    }
}
