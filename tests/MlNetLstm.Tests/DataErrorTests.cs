using Microsoft.ML;
using Microsoft.ML.Data;

namespace MlNetLstm.Tests;

public class DataErrorTests
{
    [Test]
    public void AllRowsMissingIsRefusedBeforeTraining()
    {
        var mlContext = new MLContext(seed: 1);
        var rows = SyntheticSequences.Make(30, 1);
        foreach (var row in rows)
            row.Features[0] = float.NaN;
        var reports = 0;
        var options = SyntheticSequences.QuickOptions();
        options.Progress = new SynchronousProgress<LstmTrainingProgress>(_ => reports++);
        var pipeline = mlContext.Transforms.Conversion.MapValueToKey("Label").Append(mlContext.Transforms.LstmClassifier(options));
        var e = Assert.Throws<InvalidOperationException>(() => pipeline.Fit(mlContext.Data.LoadFromEnumerable(rows)));
        Assert.That(e!.Message, Does.Contain("No usable training rows").And.Contain("'Label'").And.Contain("'Features'"));
        Assert.That(reports, Is.Zero);
    }

    [Test]
    public void AClassWithNoTrainingRowsStillGetsAScoreSlot()
    {
        var mlContext = new MLContext(seed: 1);
        var all = SyntheticSequences.Make(300, 2);
        // The key type knows all three classes, but "zigzag" never appears in training.
        var keyer = mlContext.Transforms.Conversion.MapValueToKey("Label").Fit(mlContext.Data.LoadFromEnumerable(all));
        var train = keyer.Transform(mlContext.Data.LoadFromEnumerable(all.Where(r => r.Label != "zigzag")));
        var options = SyntheticSequences.QuickOptions();
        options.TrainingSamples = 1_000;
        using var model = mlContext.Transforms.LstmClassifier(options).Fit(train);

        var test = keyer.Transform(mlContext.Data.LoadFromEnumerable(SyntheticSequences.Make(100, 3)));
        var scored = model.Transform(test);
        Assert.That(scored.GetColumn<float[]>("Score"), Has.All.Length.EqualTo(3));
        var metrics = mlContext.MulticlassClassification.Evaluate(scored);
        Assert.That(metrics.ConfusionMatrix.NumberOfClasses, Is.EqualTo(3));
        uint zigzagKey = keyer.Transform(mlContext.Data.LoadFromEnumerable(new[] { new SequenceRow { Label = "zigzag" } }))
            .GetColumn<uint>("Label").Single();
        Assert.That(metrics.ConfusionMatrix.PerClassRecall[(int)zigzagKey - 1], Is.Zero, "a class never seen in training is never predicted");
    }

    [Test]
    public void LabelsUnknownToTheKeyMappingAreSkippedAsMissing()
    {
        var mlContext = new MLContext(seed: 1);
        var known = SyntheticSequences.Make(100, 2);
        var keyer = mlContext.Transforms.Conversion.MapValueToKey("Label").Fit(mlContext.Data.LoadFromEnumerable(known));
        var rows = SyntheticSequences.Make(100, 3);
        rows[0].Label = "sideways"; // maps to the missing key 0
        var logLines = LogCapture.Collect(mlContext);
        var options = SyntheticSequences.QuickOptions();
        options.TrainingSamples = 64;
        using var model = mlContext.Transforms.LstmClassifier(options).Fit(keyer.Transform(mlContext.Data.LoadFromEnumerable(rows)));
        Assert.That(logLines, Has.Some.Contains("Read 99 training rows"));
        Assert.That(logLines, Has.Some.Contains("Skipped 1 of 100 training rows: 1 with a missing label"));
    }
}
