using Microsoft.ML;
using Microsoft.ML.Data;

namespace MlNetLstm.Tests;

/// <summary>
/// How rows become sequences: variable lengths packed, NaN padding dropped, channel-major layouts, and
/// per-channel normalisation inside the model.
/// </summary>
public class SequenceInputTests : TempFolderTest
{
    private static readonly MLContext Context = new(seed: 1);

    private static IDataView Keyed<T>(IEnumerable<T> rows) where T : class =>
        VariableSequences.Keyer(Context).Transform(Context.Data.LoadFromEnumerable(rows));

    private static LstmClassifierTransformer Fit<T>(IEnumerable<T> rows, LstmClassifierOptions options) where T : class =>
        Context.Transforms.LstmClassifier(options).Fit(Keyed(rows));

    private static string[] Scores<T>(ITransformer model, IEnumerable<T> rows) where T : class =>
        model.Transform(Keyed(rows)).GetColumn<float[]>("Score").Select(ScoreText.Format).ToArray();

    [Test]
    public void VariableLengthSequencesTrainAndScoreWell()
    {
        using var model = Fit(VariableSequences.Make(400, 1), VariableSequences.Options());
        var metrics = Context.MulticlassClassification.Evaluate(model.Transform(Keyed(VariableSequences.Make(200, 2))));
        Assert.That(metrics.MicroAccuracy, Is.GreaterThan(0.9));
        Assert.That((model.FeatureLength, model.SequenceLength, model.InputSize), Is.EqualTo(((int?)null, (int?)null, 2)));
    }

    [Test]
    public void NaNPaddedRowsTrainAndScoreExactlyLikeTheUnpaddedRows()
    {
        var train = VariableSequences.Make(300, 1);
        var test = VariableSequences.Make(100, 2);
        using var unpadded = Fit(train, VariableSequences.Options());
        using var padded = Fit(VariableSequences.Padded(train, float.NaN), VariableSequences.Options());

        var expected = Scores(unpadded, test);
        Assert.That(Scores(unpadded, VariableSequences.Padded(test, float.NaN)), Is.EqualTo(expected), "padded rows score as unpadded");
        Assert.That(Scores(padded, test), Is.EqualTo(expected), "a model trained on padded rows is the same model");
    }

    [Test]
    public void ZeroPaddingIsNotPaddingButPackingKeepsItOutOfTheScore()
    {
        var test = VariableSequences.Make(100, 2);
        using var model = Fit(VariableSequences.Make(300, 1), VariableSequences.Options());
        // Zeros are real steps: reading them changes the final hidden state, as packing avoids.
        var zeroPadded = model.Transform(Keyed(VariableSequences.Padded(test, 0f))).GetColumn<float[]>("Score").ToList();
        var packed = model.Transform(Keyed(test)).GetColumn<float[]>("Score").ToList();
        var differences = zeroPadded.Zip(packed, (a, b) => a.Zip(b, (x, y) => (double)Math.Abs(x - y)).Max()).ToList();
        var full = differences.Where((_, i) => test[i].Features.Length == PaddedRow.Length).ToList();
        var shorter = differences.Where((_, i) => test[i].Features.Length < PaddedRow.Length).ToList();
        TestContext.Out.WriteLine($"full-length rows: max difference {full.Max():E2}; shorter rows: min {shorter.Min():E2}, median {shorter.Order().ElementAt(shorter.Count / 2):E2}");
        // Full-length rows read the same steps either way (in batches of another size); shorter rows read zeros.
        Assert.That(full, Has.All.LessThan(1e-6));
        Assert.That(shorter, Has.All.GreaterThan(1e-6));
    }

    [Test]
    public void ARowScoresTheSameWhateverRowsItIsReadWith()
    {
        // Two bidirectional layers with dropout: packing, the backward direction and dropout between layers.
        var options = VariableSequences.Options();
        options.NumberOfLayers = 2;
        options.Bidirectional = true;
        options.Dropout = 0.2;
        using var model = Fit(VariableSequences.Make(300, 1), options);
        var test = VariableSequences.Make(60, 2);
        var inBatches = model.Transform(Keyed(test)).GetColumn<float[]>("Score").ToList();
        using var engine = Context.Model.CreatePredictionEngine<VariableRow, LstmClassifierTrainingTests.ScoredRow>(
            VariableSequences.Keyer(Context).Append(model), new PredictionEngineOptions { OwnsTransformer = false });
        // One row at a time: libtorch's kernels may round the last bits differently for another batch size.
        for (int i = 0; i < test.Count; i++)
            Assert.That(engine.Predict(test[i]).Score, Is.EqualTo(inBatches[i]).Within(1e-6), $"row {i}");
        // The same rows in the same batches: the same bits, padded or not.
        Assert.That(Scores(model, VariableSequences.Padded(test, float.NaN)), Is.EqualTo(Scores(model, test)));
        var metrics = Context.MulticlassClassification.Evaluate(model.Transform(Keyed(test)));
        Assert.That(metrics.MicroAccuracy, Is.GreaterThan(0.85));
    }

    [Test]
    public void RowsLongerThanAnySeenInTrainingAndSingleStepsAreScored()
    {
        using var model = Fit(VariableSequences.Make(300, 1, minSteps: 4, maxSteps: 8), VariableSequences.Options());
        var rows = VariableSequences.Make(20, 2, minSteps: 30, maxSteps: 40).Concat(VariableSequences.Make(5, 3, 1, 1)).ToList();
        var scores = model.Transform(Keyed(rows)).GetColumn<float[]>("Score").ToList();
        Assert.That(scores, Has.All.All.Not.NaN);
        Assert.That(scores.Select(s => s.Sum()), Has.All.EqualTo(1).Within(1e-4));
    }

    [Test]
    public void AModelTrainedOnFixedSizeRowsScoresVariableSizeRowsAndViceVersa()
    {
        var fixedRows = SyntheticSequences.Make(300, 1);
        var options = SyntheticSequences.QuickOptions();
        options.SequenceLength = null;
        options.InputSize = SequenceRow.InputsPerStep;
        using var fixedModel = Context.Transforms.LstmClassifier(options).Fit(Keyed(fixedRows));
        var asVariable = fixedRows.Take(50).Select(r => new VariableRow { Label = r.Label, Features = r.Features }).ToList();
        Assert.That(Scores(fixedModel, asVariable), Is.EqualTo(Scores(fixedModel, fixedRows.Take(50))));

        using var variableModel = Fit(VariableSequences.Make(300, 1), VariableSequences.Options());
        var test = VariableSequences.Make(50, 2);
        Assert.That(Scores(variableModel, VariableSequences.Padded(test, float.NaN)), Is.EqualTo(Scores(variableModel, test)));
    }

    [Test]
    public void ChannelMajorRowsGiveBitwiseTheStepMajorModel()
    {
        var stepMajor = SyntheticSequences.Make(300, 1);
        var channelMajor = stepMajor.Select(r => new SequenceRow { Label = r.Label, Features = Transpose(r.Features) }).ToList();
        var options = SyntheticSequences.QuickOptions();
        using var reference = Context.Transforms.LstmClassifier(options).Fit(Keyed(stepMajor));
        var transposedOptions = SyntheticSequences.QuickOptions();
        transposedOptions.FeatureLayout = FeatureLayout.ChannelMajor;
        using var transposed = Context.Transforms.LstmClassifier(transposedOptions).Fit(Keyed(channelMajor));

        Assert.That(Scores(transposed, channelMajor), Is.EqualTo(Scores(reference, stepMajor)));
        Assert.That(Scores(reference, channelMajor), Is.Not.EqualTo(Scores(reference, stepMajor)), "the layout matters");
    }

    /// <summary>Step-major (t * channels + c) to channel-major (c * steps + t).</summary>
    private static float[] Transpose(float[] stepMajor)
    {
        const int steps = SequenceRow.Steps, channels = SequenceRow.InputsPerStep;
        var channelMajor = new float[stepMajor.Length];
        for (int t = 0; t < steps; t++)
            for (int c = 0; c < channels; c++)
                channelMajor[c * steps + t] = stepMajor[t * channels + c];
        return channelMajor;
    }

    [Test]
    public void PerChannelNormalisationIsLearnedSavedAndAppliedAfterReload()
    {
        var train = Rescaled(VariableSequences.Make(300, 1), scale: 1000, offset: 50);
        var options = VariableSequences.Options();
        options.InputNormalization = InputNormalization.PerChannel;
        using var model = Fit(train, options);
        Assert.That(model.InputNormalization, Is.EqualTo(InputNormalization.PerChannel));

        var test = Rescaled(VariableSequences.Make(100, 2), scale: 1000, offset: 50);
        var path = Path.Combine(Folder, "model.zip");
        Context.Model.Save(model, Keyed(train).Schema, path);
        var reloaded = new MLContext().Model.Load(path, out _);
        Assert.That(Scores(reloaded, test), Is.EqualTo(Scores(model, test)));
        Assert.That(((LstmClassifierTransformer)reloaded).InputNormalization, Is.EqualTo(InputNormalization.PerChannel));
        var metrics = Context.MulticlassClassification.Evaluate(model.Transform(Keyed(test)));
        Assert.That(metrics.MicroAccuracy, Is.GreaterThan(0.9));
    }

    [Test]
    public void ARescaledChannelMakesNoDifferenceWithPerChannelNormalisation()
    {
        var options = VariableSequences.Options();
        options.InputNormalization = InputNormalization.PerChannel;
        var train = VariableSequences.Make(300, 1);
        var test = VariableSequences.Make(100, 2);
        using var plain = Fit(train, options);
        using var rescaled = Fit(Rescaled(train, scale: 1000, offset: 50), options);

        var expected = plain.Transform(Keyed(test)).GetColumn<float[]>("Score").ToList();
        var actual = rescaled.Transform(Keyed(Rescaled(test, scale: 1000, offset: 50))).GetColumn<float[]>("Score").ToList();
        for (int i = 0; i < expected.Count; i++)
            Assert.That(actual[i], Is.EqualTo(expected[i]).Within(1e-3), $"row {i}");
        Assert.That(actual.Select(ArgMax), Is.EqualTo(expected.Select(ArgMax)));
    }

    private static int ArgMax(float[] values) => Array.IndexOf(values, values.Max());

    /// <summary>The rows with channel 0 multiplied by <paramref name="scale"/> and shifted by <paramref name="offset"/>.</summary>
    private static List<VariableRow> Rescaled(IEnumerable<VariableRow> rows, float scale, float offset) =>
        rows.Select(r => new VariableRow
        {
            Label = r.Label,
            Features = r.Features.Select((v, i) => i % VariableSequences.Channels == 0 ? v * scale + offset : v).ToArray(),
        }).ToList();

    [Test]
    public void NaNInsideASequenceOrAnEmptyRowIsSkippedInTrainingAndScoredAsMissing()
    {
        var rows = VariableSequences.Make(100, 1);
        rows[0].Features[1] = float.NaN;          // inside: unusable
        rows[1].Features = [];                    // no steps
        rows[2].Features = [float.NaN, float.NaN]; // only padding
        var context = new MLContext(seed: 1);
        var log = LogCapture.Collect(context);
        using var model = context.Transforms.LstmClassifier(VariableSequences.Options())
            .Fit(VariableSequences.Keyer(context).Transform(context.Data.LoadFromEnumerable(rows)));
        Assert.That(log, Has.Some.Contains("Skipped 3 of 100 training rows: 1 with a NaN or infinite value inside the sequence, 2 with no steps"));
        Assert.That(model.TrainingSummary!.SkippedRows, Is.EqualTo(3));

        var scored = model.Transform(Keyed(rows.Take(4)));
        var keys = scored.GetColumn<uint>("PredictedLabel").ToList();
        Assert.That(keys, Is.EqualTo(new uint[] { 0, 0, 0, keys[3] }));
        Assert.That(keys[3], Is.Not.Zero);
        Assert.That(scored.GetColumn<float[]>("Score").Take(3), Has.All.All.NaN);
    }

    [Test]
    public void FitRefusesWhenMoreThanHalfOfTheRowsAreUnusable()
    {
        var rows = VariableSequences.Make(100, 1);
        foreach (var row in rows.Take(60))
            row.Features[0] = float.NaN;
        var e = Assert.Throws<InvalidOperationException>(() => Fit(rows, VariableSequences.Options()));
        Assert.That(e!.Message, Does.Contain("40 usable, 60 unusable (60 with a NaN or infinite value inside the sequence)"));
    }

    [Test]
    public void ARowThatIsNotAWholeNumberOfStepsIsNamedAtFitAndAtScoring()
    {
        var rows = VariableSequences.Make(50, 1);
        rows[7].Features = rows[7].Features[..^1];
        var atFit = Assert.Throws<ArgumentOutOfRangeException>(() => Fit(rows, VariableSequences.Options()));
        Assert.That(atFit!.Message, Does.Contain("'Features'").And.Contain("InputSize 2"));
        Assert.That(atFit.ParamName, Is.EqualTo("InputSize"));

        using var model = Fit(VariableSequences.Make(50, 1), VariableSequences.Options());
        var atScoring = Assert.Throws<ArgumentOutOfRangeException>(() => model.Transform(Keyed(rows)).GetColumn<float[]>("Score").ToList());
        Assert.That(atScoring!.Message, Does.Contain("'Features'").And.Contain("InputSize 2"));
    }

    [Test]
    public void BothSequenceLengthAndInputSizeMustAgree()
    {
        var options = SyntheticSequences.QuickOptions();
        options.InputSize = 8; // 32 values: SequenceLength 8 × InputSize 8 = 64 disagrees
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Context.Transforms.LstmClassifier(options).Fit(Keyed(SyntheticSequences.Make(30, 1))));
        Assert.That(e!.Message, Does.Contain("SequenceLength 8").And.Contain("InputSize 8"));
    }
}
