using Microsoft.ML;
using Microsoft.ML.Data;

namespace MlNetLstm.Tests;

/// <summary>Options and data at the edges of their ranges: no overflow, no silent shortcut.</summary>
public class LargeLimitsTests
{
    [Test]
    public void TrainingSamplesOfLongMaxValueTrainsUntilCancelled()
    {
        var mlContext = new MLContext(seed: 1);
        var options = SyntheticSequences.QuickOptions();
        options.TrainingSamples = long.MaxValue;
        options.DisplayStep = 1;
        var reports = new List<LstmTrainingProgress>();
        options.Progress = new SynchronousProgress<LstmTrainingProgress>(p =>
        {
            reports.Add(p);
            if (p.Batch == 5)
                mlContext.CancelExecution();
        });
        var data = mlContext.Transforms.Conversion.MapValueToKey("Label").Fit(SyntheticSequences.Load(mlContext, 100, 1))
            .Transform(SyntheticSequences.Load(mlContext, 100, 1));

        Assert.Throws<OperationCanceledException>(() => mlContext.Transforms.LstmClassifier(options).Fit(data));
        Assert.That(reports.Select(r => r.Batch), Is.EqualTo(new long[] { 1, 2, 3, 4, 5 }));
        long batches = long.MaxValue / options.BatchSize + 1;
        Assert.That(reports.Select(r => r.TotalBatches).Distinct(), Is.EqualTo(new[] { batches }));
    }

    [Test]
    public void ManyClassesScoreThroughACursorAndAPredictionEngine()
    {
        const uint classes = 2_200_000;
        var mlContext = new MLContext(seed: 1);
        var rows = Enumerable.Range(0, 6).Select(i => new ManyClassRow
        {
            Label = (uint)(i * 400_000 + 1),
            Features = new[] { i * 0.1f, 1 - i * 0.1f, 0.5f, i * -0.2f },
        }).ToList();
        var data = mlContext.Data.LoadFromEnumerable(rows, ManyClassRow.Definition(classes));
        var options = new LstmClassifierOptions { InputSize = 2, HiddenSize = 2, BatchSize = 6, TrainingSamples = 6, Seed = 1 };
        using var model = mlContext.Transforms.LstmClassifier(options).Fit(data);

        var scored = model.Transform(data);
        int read = 0;
        using (var cursor = scored.GetRowCursor(scored.Schema))
        {
            var score = cursor.GetGetter<VBuffer<float>>(scored.Schema["Score"]);
            var key = cursor.GetGetter<uint>(scored.Schema["PredictedLabel"]);
            VBuffer<float> values = default;
            uint predicted = 0;
            while (cursor.MoveNext())
            {
                score(ref values);
                key(ref predicted);
                Assert.That(values.Length, Is.EqualTo(classes));
                Assert.That(values.DenseValues().Sum(), Is.EqualTo(1).Within(1e-3));
                Assert.That(predicted, Is.InRange(1u, classes));
                read++;
            }
        }
        Assert.That(read, Is.EqualTo(rows.Count));

        using var engine = mlContext.Model.CreatePredictionEngine<ManyClassRow, Prediction>(model,
            new PredictionEngineOptions { OwnsTransformer = false, InputSchemaDefinition = ManyClassRow.Definition(classes) });
        Assert.That(engine.Predict(rows[0]).Score, Has.Length.EqualTo(classes));
    }

    [Test]
    public void MoreClassesThanAnIntCountAreRefusedAsTooMany()
    {
        var mlContext = new MLContext(seed: 1);
        var rows = new[] { new ManyClassRow { Label = 1, Features = new float[4] } };
        var data = mlContext.Data.LoadFromEnumerable(rows, ManyClassRow.Definition(3_000_000_000));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() =>
            mlContext.Transforms.LstmClassifier(new LstmClassifierOptions { InputSize = 2 }).Fit(data));
        Assert.That(e!.Message, Does.Contain("'Label'").And.Contain("3000000000 classes: too many"));
    }

    public sealed class ManyClassRow
    {
        public uint Label { get; set; }

        [VectorType(4)]
        public float[] Features { get; set; } = new float[4];

        public static SchemaDefinition Definition(ulong classes)
        {
            var definition = SchemaDefinition.Create(typeof(ManyClassRow));
            definition[nameof(Label)].ColumnType = new KeyDataViewType(typeof(uint), classes);
            return definition;
        }
    }

    public sealed class Prediction
    {
        public float[] Score { get; set; } = [];
    }
}
