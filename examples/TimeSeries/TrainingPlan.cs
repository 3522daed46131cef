using MlNetLstm;

namespace TimeSeries;

/// <summary>What the user asked to set themselves; null leaves the choice to the data.</summary>
/// <param name="Epochs">--epochs: the most epochs.</param>
/// <param name="Patience">--early-stopping: validate and stop after this many epochs without a better validation loss, whatever the data's size.</param>
/// <param name="EarlyStopping">False for --no-early-stopping: never hold rows out.</param>
/// <param name="ValuesPerStep">--values-per-step.</param>
/// <param name="HiddenSize">--hidden.</param>
internal sealed record TrainingOverrides(int? Epochs, int? Patience, bool EarlyStopping, int? ValuesPerStep, int? HiddenSize);

/// <summary>What the rules look at: the shape of the training file.</summary>
/// <param name="Rows">Training cases.</param>
/// <param name="Channels">Values per time step in the file (dimensions).</param>
/// <param name="MinLength">Time steps of the shortest case.</param>
/// <param name="MaxLength">Time steps of the longest case.</param>
internal sealed record DataShape(int Rows, int Channels, int MinLength, int MaxLength);

/// <summary>
/// The settings chosen from the data's shape — rows, channels, length — by rules that do not depend on which
/// problem it is (<see cref="RulesText"/>); <see cref="Describe"/> prints each with its reason.
/// </summary>
internal sealed record TrainingPlan(
    int ValuesPerStep,
    int InputSize,
    int MaxSteps,
    int HiddenSize,
    int BatchSize,
    int Epochs,
    double? ValidationFraction,
    int? Patience,
    double Dropout,
    int AllRows,
    int TrainingRows,
    int BatchesPerEpoch)
{
    // Why these numbers: see RulesText. They were chosen once on nine small UCR/UEA problems (the three
    // shipped ones and six others from the archive), not tuned per problem.

    /// <summary>Longest sequence, in LSTM steps, that series are folded into: an LSTM's memory fades over longer ones.</summary>
    public const int StepTarget = 32;
    /// <summary>Share of the training rows held out for validation, below and from <see cref="LargeData"/> rows.</summary>
    public const double SmallDataHoldOut = 0.2, LargeDataHoldOut = 0.1;
    public const int LargeData = 1000;
    /// <summary>Fewest held-out rows worth validating on; below it the example trains on every row instead.</summary>
    public const int MinValidationRows = 50;
    /// <summary>Hidden units per direction: more with enough rows to validate on (and to fit them).</summary>
    public const int SmallHidden = 64, LargeHidden = 128;
    /// <summary>Dropout without a hold-out: nothing stops training at its best, so regularise instead.</summary>
    public const double NoValidationDropout = 0.3;
    /// <summary>Batches per epoch aimed at; batch sizes are powers of two within these bounds.</summary>
    public const int BatchesPerEpochTarget = 10, MinBatch = 4, MaxBatch = 128;
    /// <summary>Optimiser steps the epoch budget is sized for, and its bounds in epochs.</summary>
    public const int UpdateBudget = 4000, MinEpochs = 30, MaxEpochs = 500;
    /// <summary>Patience: at least this many epochs and this many optimiser steps without a better validation loss.</summary>
    public const int MinPatience = 10, PatienceUpdates = 400;
    public const double LearningRate = 0.002, ClipNorm = 1.0, PlateauFactor = 0.5;

    /// <summary>Validation evaluations without a better loss before the learning rate is halved: a third of the patience.</summary>
    public int PlateauPatience => Math.Max(2, (Patience ?? MinPatience) / 3);

    public static TrainingPlan Choose(DataShape data, TrainingOverrides overrides)
    {
        // Never more than the shortest series holds: it must keep at least one step.
        int valuesPerStep = overrides.ValuesPerStep ?? (int)Math.Clamp(Ceiling(data.MaxLength, StepTarget), 1, Math.Max(1, data.MinLength));
        int maxSteps = data.MaxLength / valuesPerStep;

        double holdOut = data.Rows < LargeData ? SmallDataHoldOut : LargeDataHoldOut;
        bool enoughToValidate = data.Rows * holdOut >= MinValidationRows;
        bool validate = overrides.Patience is not null || (overrides.EarlyStopping && enoughToValidate);
        double? fraction = validate ? holdOut : null;
        int trainingRows = validate ? data.Rows - (int)Math.Round(data.Rows * holdOut) : data.Rows;

        int batch = Math.Clamp(FloorPowerOfTwo(trainingRows / BatchesPerEpochTarget), MinBatch, MaxBatch);
        int batchesPerEpoch = (int)Ceiling(trainingRows, batch);
        int epochs = overrides.Epochs ?? (int)Math.Clamp(Ceiling(UpdateBudget, batchesPerEpoch), MinEpochs, MaxEpochs);
        int? patience = validate ? overrides.Patience ?? (int)Math.Max(MinPatience, Ceiling(PatienceUpdates, batchesPerEpoch)) : null;

        return new TrainingPlan(
            valuesPerStep, valuesPerStep * data.Channels, maxSteps,
            overrides.HiddenSize ?? (enoughToValidate ? LargeHidden : SmallHidden),
            batch, epochs, fraction, patience,
            Dropout: validate ? 0 : NoValidationDropout,
            data.Rows, trainingRows, batchesPerEpoch);
    }

    /// <summary>The library's options for this plan.</summary>
    public LstmClassifierOptions ClassifierOptions(IProgress<LstmTrainingProgress> progress, int seed)
    {
        var options = new LstmClassifierOptions
        {
            InputSize = InputSize,
            InputNormalization = InputNormalization.PerChannel,
            HiddenSize = HiddenSize,
            // The whole series is known when it is classified: reading it both ways costs only time.
            Bidirectional = true,
            Dropout = Dropout,
            BatchSize = BatchSize,
            Epochs = Epochs,
            LearningRate = LearningRate,
            GradientClipNorm = ClipNorm,
            // Validation runs once per epoch when an epoch is at most DisplayStep batches: a step as long as an
            // epoch over all rows (before the hold-out) makes sure of it, so patience counts epochs. Without
            // validation it makes one progress report per epoch.
            DisplayStep = (int)Ceiling(AllRows, BatchSize),
            Seed = seed,
            Progress = progress,
        };
        if (ValidationFraction is double fraction)
        {
            options.ValidationFraction = fraction;
            options.EarlyStoppingPatience = Patience;
            options.LearningRateSchedule = LearningRateSchedule.ReduceOnPlateau;
            options.LearningRatePatience = PlateauPatience;
            options.LearningRateDecayFactor = PlateauFactor;
        }
        return options;
    }

    /// <summary>Each choice with the fact about the data it follows from, for the console.</summary>
    public IEnumerable<string> Describe(DataShape data)
    {
        static string I(FormattableString text) => FormattableString.Invariant(text);
        yield return I($"Input: {data.Channels} channel(s), each scaled by its training mean and deviation (InputNormalization.PerChannel)");
        yield return ValuesPerStep == 1
            ? I($"Steps: one time step per LSTM step (series of {LengthText(data)} time steps, within {StepTarget})")
            : I($"Steps: {ValuesPerStep} consecutive time steps per LSTM step (InputSize {InputSize}): series of {LengthText(data)} time steps become at most {MaxSteps} LSTM steps (target {StepTarget})");
        yield return I($"LSTM: bidirectional, {HiddenSize} hidden units per direction ({(data.Rows * SmallDataHoldOut >= MinValidationRows || data.Rows >= LargeData ? "enough rows to validate on" : I($"fewer than {MinValidationRows / SmallDataHoldOut:0} training rows"))}){(Dropout > 0 ? I($", dropout {Dropout}") : "")}");
        yield return ValidationFraction is double fraction
            ? I($"Validation: {fraction:P0} of the {AllRows} training rows held out (stratified by class), checked every epoch; stops after {Patience} epochs without a better validation loss and keeps the best epoch; learning rate {LearningRate} halved after {PlateauPatience} such epochs")
            : I($"Validation: none ({(data.Rows * SmallDataHoldOut >= MinValidationRows ? "--no-early-stopping" : I($"a {SmallDataHoldOut:P0} hold-out would be under {MinValidationRows} rows, too few to choose an epoch on"))}): trains on all {AllRows} rows for every epoch and keeps the last; learning rate {LearningRate}");
        yield return I($"Batches: {BatchSize} rows, {BatchesPerEpoch} per epoch over {TrainingRows} rows; at most {Epochs} epochs ({(long)Epochs * BatchesPerEpoch} optimiser steps); gradients clipped to norm {ClipNorm:0.0}");
    }

    private static string LengthText(DataShape data) => data.MinLength == data.MaxLength
        ? data.MaxLength.ToString(System.Globalization.CultureInfo.InvariantCulture)
        : FormattableString.Invariant($"{data.MinLength}–{data.MaxLength}");

    private static long Ceiling(long numerator, long denominator) => (numerator + denominator - 1) / denominator;

    private static int FloorPowerOfTwo(int value) => value < 1 ? 1 : 1 << (31 - int.LeadingZeroCount(value));

    /// <summary>The rules, for --help and the README.</summary>
    public static string RulesText => FormattableString.Invariant($"""
        Settings are chosen from the training file's shape (rows, channels, length), never from its name:
          - Each value of a step is scaled by its training mean and deviation, inside the model (InputNormalization.PerChannel):
            each channel, and when series are folded, each channel at each position within the folded step.
          - Series longer than {StepTarget} time steps are folded: k = ceil(longest length / {StepTarget}) consecutive time
            steps make one LSTM step (InputSize = k x channels). The library needs each row's length to be a multiple
            of k, so a series of L time steps loses its first L mod k (at most k-1; the end is kept whole). This is done
            when the data is prepared, so the saved model stays a plain ML.NET pipeline: fold data the same way before
            scoring it with the model.
          - Validation: {SmallDataHoldOut:P0} of the training rows ({LargeDataHoldOut:P0} from {LargeData} rows) are held out, stratified by class,
            when that makes at least {MinValidationRows} rows. Training then checks them every epoch, stops after
            max({MinPatience}, ceil({PatienceUpdates} / batches per epoch)) epochs without a better validation loss, keeps the best epoch's
            weights, and halves the learning rate after a third of that. With fewer rows a hold-out is too small to pick
            an epoch on (on small UCR problems it cost accuracy): every row is trained on for every epoch, the last
            weights are kept, and dropout {NoValidationDropout} regularises instead. --early-stopping and --no-early-stopping overrule this.
          - LSTM: bidirectional (the whole series is known when classifying), {LargeHidden} hidden units per direction when there
            are enough rows to validate on, {SmallHidden} otherwise. Adam at {LearningRate}, gradients clipped to norm {ClipNorm:0.0}.
          - Batch: the largest power of two up to (training rows / {BatchesPerEpochTarget}), within {MinBatch}-{MaxBatch}, so an epoch has about
            {BatchesPerEpochTarget} steps even on tiny sets.
          - Epochs: enough for about {UpdateBudget} optimiser steps, within {MinEpochs}-{MaxEpochs} (a ceiling when early stopping is on).
          - Class keys follow the order the file declares its labels in (@classLabel).
        """);
}
