using Microsoft.ML;
using Microsoft.ML.Data;

namespace MlNetLstm.Tests;

public class LstmClassifierTrainingTests
{
    [Test]
    public void LearnsTheSequenceTaskOnHeldOutRows()
    {
        var metrics = TrainedModel.Context.MulticlassClassification.Evaluate(TrainedModel.Model.Transform(TrainedModel.TestData));
        Assert.That(metrics.MicroAccuracy, Is.GreaterThan(0.9));
        Assert.That(metrics.LogLoss, Is.LessThan(0.4));
    }

    [Test]
    public void EvaluateAgreesWithAHandCountOfArgmax()
    {
        var scored = TrainedModel.Model.Transform(TrainedModel.TestData);
        var labels = scored.GetColumn<uint>("Label").ToArray();
        var scores = scored.GetColumn<float[]>("Score").ToArray();
        var predicted = scored.GetColumn<uint>("PredictedLabel").ToArray();

        int correct = 0;
        for (int i = 0; i < labels.Length; i++)
        {
            var values = scores[i];
            int argmax = Array.IndexOf(values, values.Max());
            Assert.That(predicted[i], Is.EqualTo((uint)argmax + 1), "PredictedLabel is the 1-based argmax of Score");
            Assert.That(values.Sum(), Is.EqualTo(1f).Within(1e-4), "Score holds probabilities");
            if (predicted[i] == labels[i])
                correct++;
        }
        var metrics = TrainedModel.Context.MulticlassClassification.Evaluate(scored);
        Assert.That(metrics.MicroAccuracy, Is.EqualTo(correct / (double)labels.Length).Within(1e-12));
        Assert.That(metrics.ConfusionMatrix.PerClassPrecision, Has.Count.EqualTo(3));
    }

    [Test]
    public void PredictedLabelMapsBackToTheOriginalLabelText()
    {
        var mlContext = TrainedModel.Context;
        var back = mlContext.Transforms.Conversion.MapKeyToValue("PredictedText", "PredictedLabel")
            .Fit(TrainedModel.Model.Transform(TrainedModel.TestData))
            .Transform(TrainedModel.Model.Transform(TrainedModel.TestData));
        var predictedText = back.GetColumn<string>("PredictedText").ToArray();
        var truth = SyntheticSequences.Make(TrainedModel.TestRows, TrainedModel.TestSeed).Select(r => r.Label).ToArray();
        Assert.That(predictedText, Has.All.AnyOf(SyntheticSequences.Classes));
        Assert.That(predictedText.Zip(truth).Count(p => p.First == p.Second), Is.GreaterThan(TrainedModel.TestRows * 0.9));
    }

    [Test]
    public void PredictionEngineMatchesTransform()
    {
        var mlContext = TrainedModel.Context;
        var rows = SyntheticSequences.Make(50, 99);
        var batched = TrainedModel.Model.Transform(mlContext.Data.LoadFromEnumerable(rows))
            .GetColumn<float[]>("Score").ToArray();
        using var engine = mlContext.Model.CreatePredictionEngine<SequenceRow, ScoredRow>(
            TrainedModel.Model, new PredictionEngineOptions { OwnsTransformer = false });
        for (int i = 0; i < rows.Count; i++)
            Assert.That(engine.Predict(rows[i]).Score, Is.EqualTo(batched[i]).Within(1e-5), $"row {i}");
    }

    [Test]
    public void SameSeedGivesBitwiseIdenticalPredictions()
    {
        static string[] FitAndScore()
        {
            var mlContext = new MLContext(seed: 5);
            var options = SyntheticSequences.QuickOptions(seed: null);
            options.TrainingSamples = 640;
            var model = mlContext.Transforms.Conversion.MapValueToKey("Label")
                .Append(mlContext.Transforms.LstmClassifier(options))
                .Fit(SyntheticSequences.Load(mlContext, 300, 3));
            return model.Transform(SyntheticSequences.Load(mlContext, 50, 4))
                .GetColumn<float[]>("Score").Select(ScoreText.Format).ToArray();
        }
        Assert.That(FitAndScore(), Is.EqualTo(FitAndScore()));
    }

    [Test]
    public void DifferentSeedsGiveDifferentModels()
    {
        string FitAndScore(int seed)
        {
            var mlContext = new MLContext();
            var options = SyntheticSequences.QuickOptions(seed);
            options.TrainingSamples = 320;
            var model = mlContext.Transforms.Conversion.MapValueToKey("Label")
                .Append(mlContext.Transforms.LstmClassifier(options))
                .Fit(SyntheticSequences.Load(mlContext, 300, 3));
            return ScoreText.Format(model.Transform(SyntheticSequences.Load(mlContext, 1, 4)).GetColumn<float[]>("Score").First());
        }
        Assert.That(FitAndScore(1), Is.Not.EqualTo(FitAndScore(2)));
    }

    [Test]
    public void ReportsProgressToTheLogAndTheCallback()
    {
        var mlContext = new MLContext(seed: 1);
        var logLines = LogCapture.Collect(mlContext);
        var reports = new List<LstmTrainingProgress>();
        var options = SyntheticSequences.QuickOptions();
        options.TrainingSamples = 32 * 20;
        options.DisplayStep = 5;
        options.ValidationSet = SyntheticSequences.Load(mlContext, 100, 77);
        options.Progress = new SynchronousProgress<LstmTrainingProgress>(reports.Add);

        var data = mlContext.Transforms.Conversion.MapValueToKey("Label").Fit(SyntheticSequences.Load(mlContext, 200, 3));
        options.ValidationSet = data.Transform(options.ValidationSet);
        mlContext.Transforms.LstmClassifier(options).Fit(data.Transform(SyntheticSequences.Load(mlContext, 200, 3)));

        Assert.That(reports.Select(r => r.Batch), Is.EqualTo(new[] { 5, 10, 15, 20 }));
        Assert.That(reports.Select(r => r.SamplesSeen), Is.EqualTo(new long[] { 160, 320, 480, 640 }));
        Assert.That(reports, Has.All.Matches<LstmTrainingProgress>(r =>
            r.TotalBatches == 20 && r.MinibatchLoss > 0 && r.MinibatchAccuracy is >= 0 and <= 1
            && r.ValidationAccuracy is >= 0 and <= 1 && r.ValidationLoss > 0));
        Assert.That(logLines, Has.Some.Contains("Iter 640, Minibatch Loss= "));
        Assert.That(logLines, Has.Some.Contains("Read 200 training rows"));
    }

    [Test]
    public void SkipsAndCountsRowsWithMissingValues()
    {
        var mlContext = new MLContext(seed: 1);
        var logLines = LogCapture.Collect(mlContext);
        var rows = SyntheticSequences.Make(200, 3);
        rows[0].Features[3] = float.NaN;
        rows[1].Features[0] = float.PositiveInfinity;
        var options = SyntheticSequences.QuickOptions();
        options.TrainingSamples = 64;
        mlContext.Transforms.Conversion.MapValueToKey("Label")
            .Append(mlContext.Transforms.LstmClassifier(options))
            .Fit(mlContext.Data.LoadFromEnumerable(rows));
        Assert.That(logLines, Has.Some.Contains("Read 198 training rows"));
        Assert.That(logLines, Has.Some.Contains("Skipped 2 of 200 training rows: 2 with a NaN or infinite value inside the sequence"));
    }

    [Test]
    public void NonFiniteFeaturesAtPredictionGiveNaNScoresAndAMissingKey()
    {
        var rows = SyntheticSequences.Make(3, 5);
        rows[1].Features[7] = float.NaN;
        var scored = TrainedModel.Model.Transform(TrainedModel.Context.Data.LoadFromEnumerable(rows));
        var scores = scored.GetColumn<float[]>("Score").ToArray();
        var predicted = scored.GetColumn<uint>("PredictedLabel").ToArray();
        Assert.That(scores[1], Has.All.NaN);
        Assert.That(predicted[1], Is.EqualTo(0u));
        Assert.That(scores[0], Has.None.NaN);
        Assert.That(predicted[0], Is.Not.EqualTo(0u));
    }

    [Test]
    public void CancelExecutionStopsTrainingWithinABatch()
    {
        var mlContext = new MLContext(seed: 1);
        var reports = new List<LstmTrainingProgress>();
        var options = SyntheticSequences.QuickOptions();
        options.TrainingSamples = 1_000_000;
        options.DisplayStep = 1;
        options.Progress = new SynchronousProgress<LstmTrainingProgress>(p =>
        {
            reports.Add(p);
            if (p.Batch == 3)
                mlContext.CancelExecution();
        });
        var pipeline = mlContext.Transforms.Conversion.MapValueToKey("Label").Append(mlContext.Transforms.LstmClassifier(options));
        Assert.Throws<OperationCanceledException>(() => pipeline.Fit(SyntheticSequences.Load(mlContext, 200, 3)));
        Assert.That(reports.Last().Batch, Is.EqualTo(3));
    }

    [Test]
    public void DisposedTransformerRefusesWorkAndDisposesTwiceSafely()
    {
        var mlContext = new MLContext(seed: 1);
        var options = SyntheticSequences.QuickOptions();
        options.TrainingSamples = 64;
        var data = mlContext.Transforms.Conversion.MapValueToKey("Label").Fit(SyntheticSequences.Load(mlContext, 100, 3))
            .Transform(SyntheticSequences.Load(mlContext, 100, 3));
        var model = mlContext.Transforms.LstmClassifier(options).Fit(data);
        model.Dispose();
        model.Dispose();
        Assert.Throws<ObjectDisposedException>(() => model.Transform(data));
        Assert.Throws<ObjectDisposedException>(() => mlContext.Model.Save(model, data.Schema, new MemoryStream()));
    }

    public sealed class ScoredRow
    {
        public float[] Score { get; set; } = Array.Empty<float>();
        public uint PredictedLabel { get; set; }
    }
}
