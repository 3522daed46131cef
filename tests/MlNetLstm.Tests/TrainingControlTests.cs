using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetLstm.Training;

namespace MlNetLstm.Tests;

/// <summary>Epochs, validation, early stopping with the best weights, learning-rate schedule, clipping and class weights.</summary>
public class TrainingControlTests : TempFolderTest
{
    private static readonly MLContext Context = new(seed: 1);

    private static IDataView Keyed(IEnumerable<SequenceRow> rows) =>
        VariableSequences.Keyer(Context).Transform(Context.Data.LoadFromEnumerable(rows));

    /// <summary>Few noisy rows: the validation loss bottoms out and rises again, so early stopping has work to do.</summary>
    private static List<SequenceRow> Overfittable() => SyntheticSequences.Make(120, 31).Select((r, i) =>
    {
        if (i % 4 == 0)
            r.Label = SyntheticSequences.Classes[(Array.IndexOf(SyntheticSequences.Classes, r.Label) + 1) % 3];
        return r;
    }).ToList();

    private static LstmClassifierOptions EpochOptions(int epochs)
    {
        var options = SyntheticSequences.QuickOptions(seed: 5);
        options.TrainingSamples = null;
        options.Epochs = epochs;
        options.HiddenSize = 32;
        options.BatchSize = 16;
        options.LearningRate = 0.02;
        options.ValidationFraction = 0.25;
        return options;
    }

    private static string[] Scores(ITransformer model, IDataView data) =>
        model.Transform(data).GetColumn<float[]>("Score").Select(ScoreText.Format).ToArray();

    [Test]
    public void EarlyStoppingKeepsExactlyTheBestEpochsWeights()
    {
        var data = Keyed(Overfittable());
        var reports = new List<LstmTrainingProgress>();
        var stopping = EpochOptions(epochs: 200);
        stopping.EarlyStoppingPatience = 5;
        stopping.Progress = new SynchronousProgress<LstmTrainingProgress>(reports.Add);
        using var stopped = Context.Transforms.LstmClassifier(stopping).Fit(data);
        var summary = stopped.TrainingSummary!;

        Assert.That(summary.StoppedEarly, "the validation loss stopped improving");
        Assert.That(summary.Epochs, Is.LessThan(200));
        Assert.That(summary.KeptBatch, Is.LessThan(summary.Batches), "the kept weights are older than the last batch");
        var best = reports.Single(r => r.Batch == summary.KeptBatch);
        Assert.That(best.IsBestSoFar);
        Assert.That(best.ValidationLoss, Is.EqualTo(reports.Min(r => r.ValidationLoss)));
        Assert.That(summary.BestValidationLoss, Is.EqualTo(best.ValidationLoss));
        int rows = summary.TrainingRows;
        Assert.That(reports.Select(r => r.Epoch), Is.EqualTo(reports.Select((_, i) => Math.Ceiling((i + 1) * rows / 16.0) * 16 / rows)),
            "validation once per epoch, as an epoch (6 batches) is shorter than DisplayStep");

        // Trained for exactly the kept number of epochs with the same seed, the model is the same bit for bit.
        int keptEpochs = (int)Math.Floor(summary.KeptEpoch);
        using var trainedFor = Context.Transforms.LstmClassifier(EpochOptions(keptEpochs)).Fit(data);
        Assert.That(trainedFor.TrainingSummary!.KeptBatch, Is.EqualTo(summary.KeptBatch));
        Assert.That(Scores(trainedFor, data), Is.EqualTo(Scores(stopped, data)));
    }

    [Test]
    public void StoppedEarlyOnAValidationSetEqualsAPlainRunOfTheKeptEpochs()
    {
        // With a separate validation set the training rows are the same with or without validation,
        // so the kept weights must be exactly those of a run without any validation that ends there.
        var train = Keyed(Overfittable());
        var options = EpochOptions(epochs: 200);
        options.ValidationFraction = null;
        options.ValidationSet = Keyed(SyntheticSequences.Make(60, 32));
        options.EarlyStoppingPatience = 5;
        using var stopped = Context.Transforms.LstmClassifier(options).Fit(train);
        var summary = stopped.TrainingSummary!;
        Assert.That(summary.StoppedEarly);

        var plain = EpochOptions(epochs: (int)Math.Floor(summary.KeptEpoch));
        plain.ValidationFraction = null;
        using var trainedFor = Context.Transforms.LstmClassifier(plain).Fit(train);
        Assert.That(trainedFor.TrainingSummary!.Batches, Is.EqualTo(summary.KeptBatch));
        Assert.That(Scores(trainedFor, train), Is.EqualTo(Scores(stopped, train)));
    }

    [Test]
    public void WithValidationTheBestWeightsAreKeptEvenWithoutEarlyStopping()
    {
        var data = Keyed(Overfittable());
        var reports = new List<LstmTrainingProgress>();
        var options = EpochOptions(epochs: 40);
        options.Progress = new SynchronousProgress<LstmTrainingProgress>(reports.Add);
        using var model = Context.Transforms.LstmClassifier(options).Fit(data);
        var summary = model.TrainingSummary!;
        Assert.That(summary.StoppedEarly, Is.False);
        Assert.That(summary.Epochs, Is.EqualTo(40).Within(16 / 90.0));
        Assert.That(summary.KeptBatch, Is.EqualTo(reports.MinBy(r => r.ValidationLoss)!.Batch));
        Assert.That(summary.ValidationRows, Is.EqualTo(30));
        Assert.That(summary.TrainingRows, Is.EqualTo(90));
    }

    [Test]
    public void TheTrainingSummarySurvivesSaveAndLoad()
    {
        var data = Keyed(Overfittable());
        var options = EpochOptions(epochs: 5);
        options.EarlyStoppingPatience = 2;
        using var model = Context.Transforms.LstmClassifier(options).Fit(data);
        var path = Path.Combine(Folder, "model.zip");
        Context.Model.Save(model, data.Schema, path);
        var reloaded = (LstmClassifierTransformer)new MLContext().Model.Load(path, out _);
        Assert.That(reloaded.TrainingSummary, Is.EqualTo(model.TrainingSummary));
        Assert.That(reloaded.TrainingSummary!.ToString(), Does.Contain("kept the weights of epoch"));
    }

    [Test]
    public void ValidationFractionIsStratifiedAndSeeded()
    {
        // 300 rows: 200 of class 0, 90 of class 1, 10 of class 2.
        var labels = Enumerable.Range(0, 300).Select(i => i < 200 ? 0 : i < 290 ? 1 : 2).ToList();
        var rows = labels.Select(label => new SequenceRow { Label = SyntheticSequences.Classes[label], Features = new float[SequenceRow.Length] });
        var context = new MLContext(seed: 1);
        var keyed = VariableSequences.Keyer(context).Transform(context.Data.LoadFromEnumerable(rows));
        var decoder = new Sequences.SequenceDecoder(new Sequences.SequenceShape(4, FeatureLayout.StepMajor, SequenceRow.Length, null), "Features");
        using var set = TrainingSet.Read(keyed, keyed.Schema["Label"], keyed.Schema["Features"], 3, decoder, () => { });

        var (train, validation) = set.AllRows().SplitStratified(0.2, seed: 7, "ValidationFraction");
        Assert.That(validation.ClassCounts(3), Is.EqualTo(new long[] { 40, 18, 2 }));
        Assert.That(train.ClassCounts(3), Is.EqualTo(new long[] { 160, 72, 8 }));
        Assert.That(train.Rows.Concat(validation.Rows).Order(), Is.EqualTo(Enumerable.Range(0, 300)));

        Assert.That(set.AllRows().SplitStratified(0.2, seed: 7, "ValidationFraction").Validation.Rows, Is.EqualTo(validation.Rows));
        Assert.That(set.AllRows().SplitStratified(0.2, seed: 8, "ValidationFraction").Validation.Rows, Is.Not.EqualTo(validation.Rows));

        var e = Assert.Throws<ArgumentOutOfRangeException>(() => set.AllRows().SplitStratified(0.96, seed: 7, "ValidationFraction"));
        Assert.That(e!.ParamName, Is.EqualTo("ValidationFraction"));
        Assert.That(e.Message, Does.Contain("leaving it none to train on"));
    }

    [Test]
    public void BalancedClassWeightsRaiseTheMinorityClassRecall()
    {
        // Every value of a row is one draw: class "down" (5 % of rows) from N(1, 0.5²), "up" from N(0, 0.5²).
        // Unweighted, the best boundary for the 19:1 prior leaves most of "down" below it.
        static List<SequenceRow> Imbalanced(int count, int seed)
        {
            var random = new Random(seed);
            return Enumerable.Range(0, count).Select(i =>
            {
                bool minority = i % 20 == 0;
                double u = 1 - random.NextDouble(), v = random.NextDouble();
                float value = (float)((minority ? 1.0 : 0.0) + 0.5 * Math.Sqrt(-2 * Math.Log(u)) * Math.Cos(2 * Math.PI * v));
                return new SequenceRow { Label = minority ? "down" : "up", Features = Enumerable.Repeat(value, SequenceRow.Length).ToArray() };
            }).ToList();
        }
        double MinorityRecall(ClassWeighting weighting)
        {
            var options = SyntheticSequences.QuickOptions(seed: 2);
            options.ClassWeighting = weighting;
            options.TrainingSamples = 6_000;
            using var model = Context.Transforms.LstmClassifier(options).Fit(Keyed(Imbalanced(1_000, 1)));
            var test = Imbalanced(2_000, 2);
            var predicted = model.Transform(Keyed(test)).GetColumn<uint>("PredictedLabel").ToList();
            var downKey = Keyed([new SequenceRow { Label = "down" }]).GetColumn<uint>("Label").Single();
            var minority = test.Select((row, i) => (row, i)).Where(p => p.row.Label == "down").ToList();
            return minority.Count(p => predicted[p.i] == downKey) / (double)minority.Count;
        }
        double plain = MinorityRecall(ClassWeighting.None), balanced = MinorityRecall(ClassWeighting.Balanced);
        TestContext.Out.WriteLine($"minority recall: none {plain:F3}, balanced {balanced:F3}");
        Assert.That(balanced, Is.GreaterThan(plain + 0.2));
    }

    [Test]
    public void GradientClippingBoundsTheUpdate()
    {
        var data = Keyed(SyntheticSequences.Make(200, 1));
        float[] WeightsAfter(long samples, double? clip)
        {
            var options = SyntheticSequences.QuickOptions(seed: 9);
            options.TrainingSamples = samples;
            options.LearningRate = samples == 1 ? 1e-30 : 0.01;
            options.GradientClipNorm = clip;
            using var model = Context.Transforms.LstmClassifier(options).Fit(data);
            return model.Model.Network.state_dict()["layers.0.weight_hh_l0"].data<float>().ToArray();
        }
        var initial = WeightsAfter(1, clip: null);
        double MaxChange(float[] after) => after.Zip(initial, (a, b) => Math.Abs(a - b)).Max();

        // Adam moves each weight by about the learning rate per step whatever the gradient's scale, unless
        // the gradient is clipped far below Adam's epsilon: then the update all but vanishes.
        double unclipped = MaxChange(WeightsAfter(320, clip: null));
        double clipped = MaxChange(WeightsAfter(320, clip: 1e-9));
        TestContext.Out.WriteLine($"largest weight change over 10 steps: unclipped {unclipped:E2}, clipped {clipped:E2}");
        Assert.That(unclipped, Is.GreaterThan(0.02));
        Assert.That(clipped, Is.LessThan(0.01 * 10 * 0.05));
    }

    [Test]
    public void ReduceOnPlateauLowersTheRateAfterThePatience()
    {
        var reports = new List<LstmTrainingProgress>();
        var options = EpochOptions(epochs: 30);
        options.LearningRateSchedule = LearningRateSchedule.ReduceOnPlateau;
        options.LearningRatePatience = 2;
        options.LearningRateDecayFactor = 0.25;
        options.Progress = new SynchronousProgress<LstmTrainingProgress>(reports.Add);
        // Random labels: the validation loss cannot keep improving.
        var random = new Random(3);
        var rows = SyntheticSequences.Make(120, 4).Select(r => { r.Label = SyntheticSequences.Classes[random.Next(3)]; return r; }).ToList();
        using var model = Context.Transforms.LstmClassifier(options).Fit(Keyed(rows));

        var rates = reports.Select(r => r.LearningRate).ToList();
        Assert.That(rates[0], Is.EqualTo(options.LearningRate));
        Assert.That(rates.Distinct().Count(), Is.GreaterThan(1), "the rate was reduced");
        for (int i = 1; i < reports.Count; i++)
        {
            if (rates[i] == rates[i - 1])
                continue;
            Assert.That(rates[i], Is.EqualTo(rates[i - 1] * 0.25).Within(1e-15));
            // The two evaluations before a reduction were not improvements.
            Assert.That(reports[i - 1].IsBestSoFar || reports[i - 2].IsBestSoFar, Is.False, $"report {i}");
        }
        Assert.That(model.TrainingSummary!.FinalLearningRate, Is.EqualTo(rates[^1]).Within(1e-15));

        // The optimizer really took the lower rate: the same run whose patience never runs out trains like
        // a constant rate, and differs from this one.
        var neverReduced = EpochOptions(epochs: 30);
        neverReduced.LearningRateSchedule = LearningRateSchedule.ReduceOnPlateau;
        neverReduced.LearningRatePatience = 1_000;
        var constant = EpochOptions(epochs: 30);
        var data = Keyed(rows);
        using var modelNeverReduced = Context.Transforms.LstmClassifier(neverReduced).Fit(data);
        using var modelConstant = Context.Transforms.LstmClassifier(constant).Fit(data);
        Assert.That(Scores(modelNeverReduced, data), Is.EqualTo(Scores(modelConstant, data)));
        Assert.That(Scores(model, data), Is.Not.EqualTo(Scores(modelConstant, data)));
    }

    [Test]
    public void NormalisationIsLearnedFromTheTrainingRowsOnlyNotTheHeldOutOnes()
    {
        var rows = SyntheticSequences.Make(200, 8);
        var options = EpochOptions(epochs: 1);
        options.InputNormalization = InputNormalization.PerChannel;
        using var model = Context.Transforms.LstmClassifier(options).Fit(Keyed(rows));

        var keyed = Keyed(rows);
        var decoder = new Sequences.SequenceDecoder(new Sequences.SequenceShape(4, FeatureLayout.StepMajor, SequenceRow.Length, null), "Features");
        using var set = TrainingSet.Read(keyed, keyed.Schema["Label"], keyed.Schema["Features"], 3, decoder, () => { });
        var (train, _) = set.AllRows().SplitStratified(0.25, options.Seed!.Value, "ValidationFraction");
        var trainedOn = Sequences.ChannelStatistics.Measure(set.Sequences, train.Rows);
        var everyRow = Sequences.ChannelStatistics.Measure(set.Sequences, set.AllRows().Rows);
        var learned = model.Model.Input.Normalization!;
        Assert.That(learned.Mean, Is.EqualTo(trainedOn.Mean));
        Assert.That(learned.Deviation, Is.EqualTo(trainedOn.Deviation));
        Assert.That(learned.Mean, Is.Not.EqualTo(everyRow.Mean));
    }

    [Test]
    public void NumberOfThreadsHoldsWhileFitTrainsAndIsRestoredAfter()
    {
        int before = TorchSharp.torch.get_num_threads();
        var during = new List<int>();
        var options = SyntheticSequences.QuickOptions();
        options.TrainingSamples = 320;
        options.DisplayStep = 2;
        options.NumberOfThreads = before == 1 ? 2 : 1;
        options.Progress = new SynchronousProgress<LstmTrainingProgress>(_ => during.Add(TorchSharp.torch.get_num_threads()));
        using var model = Context.Transforms.LstmClassifier(options).Fit(Keyed(SyntheticSequences.Make(100, 1)));
        Assert.That(during, Is.Not.Empty.And.All.EqualTo(options.NumberOfThreads));
        Assert.That(TorchSharp.torch.get_num_threads(), Is.EqualTo(before));
    }

    [TestCase(nameof(LstmClassifierOptions.ValidationFraction), 0.0)]
    [TestCase(nameof(LstmClassifierOptions.ValidationFraction), 1.0)]
    [TestCase(nameof(LstmClassifierOptions.ValidationFraction), double.NaN)]
    [TestCase(nameof(LstmClassifierOptions.EarlyStoppingPatience), 0)]
    [TestCase(nameof(LstmClassifierOptions.LearningRateDecayFactor), 1.0)]
    [TestCase(nameof(LstmClassifierOptions.LearningRateDecayFactor), 0.0)]
    [TestCase(nameof(LstmClassifierOptions.LearningRatePatience), 0)]
    [TestCase(nameof(LstmClassifierOptions.GradientClipNorm), 0.0)]
    [TestCase(nameof(LstmClassifierOptions.GradientClipNorm), double.PositiveInfinity)]
    [TestCase(nameof(LstmClassifierOptions.Epochs), 0)]
    [TestCase(nameof(LstmClassifierOptions.NumberOfThreads), 0)]
    [TestCase(nameof(LstmClassifierOptions.ClassWeighting), 7)]
    [TestCase(nameof(LstmClassifierOptions.LearningRateSchedule), 7)]
    [TestCase(nameof(LstmClassifierOptions.FeatureLayout), 7)]
    [TestCase(nameof(LstmClassifierOptions.InputNormalization), 7)]
    public void AnInvalidValueIsRefusedByName(string option, object value)
    {
        var options = SyntheticSequences.QuickOptions();
        options.ValidationFraction = option == nameof(LstmClassifierOptions.ValidationFraction) ? null : 0.2;
        options.TrainingSamples = option == nameof(LstmClassifierOptions.Epochs) ? null : options.TrainingSamples;
        var property = typeof(LstmClassifierOptions).GetProperty(option)!;
        var type = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
        property.SetValue(options, type.IsEnum ? Enum.ToObject(type, value) : Convert.ChangeType(value, type));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Context.Transforms.LstmClassifier(options));
        Assert.That(e!.ParamName, Is.EqualTo(option));
        Assert.That(e.Message, Does.Contain(option));
    }

    [Test]
    public void ConflictingOrIncompleteSettingsNameTheOptions()
    {
        void AssertRefused(Action<LstmClassifierOptions> set, params string[] named)
        {
            var options = SyntheticSequences.QuickOptions();
            set(options);
            var e = Assert.Throws<ArgumentException>(() => Context.Transforms.LstmClassifier(options));
            foreach (var name in named)
                Assert.That(e!.Message, Does.Contain(name));
        }
        AssertRefused(o => o.Epochs = 3, "TrainingSamples", "Epochs");
        AssertRefused(o => { o.ValidationFraction = 0.2; o.ValidationSet = Keyed(SyntheticSequences.Make(10, 1)); }, "ValidationSet", "ValidationFraction");
        AssertRefused(o => o.EarlyStoppingPatience = 3, "EarlyStoppingPatience", "ValidationSet", "ValidationFraction");
        AssertRefused(o => o.LearningRateSchedule = LearningRateSchedule.ReduceOnPlateau, "ReduceOnPlateau", "ValidationFraction");
    }
}
