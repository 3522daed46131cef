using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MlNetLstm.Tests;

public class ConcurrencyAndLifetimeTests
{
    private const int Threads = 8;

    [Test]
    public void PredictionEnginesOnEightThreadsMatchSequentialPredictions()
    {
        var mlContext = TrainedModel.Context;
        var rows = SyntheticSequences.Make(200, 21);
        var options = new PredictionEngineOptions { OwnsTransformer = false };
        string[] Predict(IEnumerable<SequenceRow> input)
        {
            using var engine = mlContext.Model.CreatePredictionEngine<SequenceRow, LstmClassifierTrainingTests.ScoredRow>(TrainedModel.Model, options);
            return input.Select(r => ScoreText.Format(engine.Predict(r).Score)).ToArray();
        }
        var sequential = Predict(rows);

        var parallel = new string[Threads][];
        using var start = new Barrier(Threads);
        var workers = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
        {
            start.SignalAndWait();
            parallel[t] = Predict(rows);
        })).ToList();
        workers.ForEach(w => w.Start());
        workers.ForEach(w => w.Join());

        foreach (var result in parallel)
            Assert.That(result, Is.EqualTo(sequential));
    }

    [Test]
    public void ParallelCursorsGiveTheSequentialResults()
    {
        var mlContext = TrainedModel.Context;
        // A cached view supports parallel cursor sets, so rows really are split between cursors.
        var data = mlContext.Data.Cache(SyntheticSequences.Load(mlContext, 3_000, 22));
        var scored = TrainedModel.Model.Transform(data);
        var columns = new[] { scored.Schema["Score"], scored.Schema["PredictedLabel"] };

        var sequential = new Dictionary<ulong, string>();
        using (var cursor = scored.GetRowCursor(columns))
            Collect(cursor, sequential);

        var cursors = scored.GetRowCursorSet(columns, Threads);
        Assert.That(cursors, Has.Length.GreaterThan(1), "the data view really splits the work");
        var parts = new Dictionary<ulong, string>[cursors.Length];
        Parallel.For(0, cursors.Length, i =>
        {
            parts[i] = new Dictionary<ulong, string>();
            using (cursors[i])
                Collect(cursors[i], parts[i]);
        });

        var merged = parts.SelectMany(p => p).ToDictionary(p => p.Key, p => p.Value);
        Assert.That(merged, Is.EquivalentTo(sequential));
    }

    [Test]
    public void ParallelCursorsKeepTheRowOrderWhenMerged()
    {
        var mlContext = TrainedModel.Context;
        // 20,000 rows, tagged with their index; ML.NET merges parallel cursors back using Batch and Position.
        var rows = SyntheticSequences.Make(20_000, 23).Select((r, i) => new TaggedRow { Index = i, Label = r.Label, Features = r.Features });
        var data = mlContext.Data.Cache(mlContext.Data.LoadFromEnumerable(rows));
        // A row-to-row step after the classifier reads it through parallel cursors and merges them.
        var scored = mlContext.Transforms.Conversion.MapKeyToValue("PredictedLabel")
            .Fit(TrainedModel.Model.Transform(data)).Transform(TrainedModel.Model.Transform(data));
        var indices = mlContext.Data.CreateEnumerable<TaggedScore>(scored, reuseRowObject: false).Select(r => r.Index).ToList();
        Assert.That(indices, Is.EqualTo(Enumerable.Range(0, 20_000).Select(i => (float)i)));
    }

    [Test]
    public void CursorsAndEnginesCreatedInsideACallersDisposeScopeOutliveIt()
    {
        var mlContext = TrainedModel.Context;
        var data = TrainedModel.TestData;
        DataViewRowCursor cursor;
        PredictionEngine<SequenceRow, LstmClassifierTrainingTests.ScoredRow> engine;
        using (TorchSharp.torch.NewDisposeScope())
        {
            var scored = TrainedModel.Model.Transform(data);
            cursor = scored.GetRowCursor(new[] { scored.Schema["Score"] });
            engine = mlContext.Model.CreatePredictionEngine<SequenceRow, LstmClassifierTrainingTests.ScoredRow>(
                TrainedModel.Model, new PredictionEngineOptions { OwnsTransformer = false });
        }
        using (cursor)
        {
            var score = cursor.GetGetter<VBuffer<float>>(cursor.Schema["Score"]);
            VBuffer<float> value = default;
            Assert.That(cursor.MoveNext());
            score(ref value);
            Assert.That(value.Length, Is.EqualTo(3));
        }
        using (engine)
            Assert.That(engine.Predict(SyntheticSequences.Make(1, 3)[0]).Score, Has.Length.EqualTo(3));
    }

    [Test]
    public void DisposingWhileOtherThreadsPredictNeverCrashes()
    {
        var mlContext = new MLContext(seed: 1);
        var options = SyntheticSequences.QuickOptions();
        options.TrainingSamples = 64;
        var keyer = mlContext.Transforms.Conversion.MapValueToKey("Label").Fit(SyntheticSequences.Load(mlContext, 100, 1));
        var model = mlContext.Transforms.LstmClassifier(options).Fit(keyer.Transform(SyntheticSequences.Load(mlContext, 100, 1)));
        var row = SyntheticSequences.Make(1, 2)[0];
        const int threads = 4;
        using var predicting = new CountdownEvent(threads);
        var outcomes = new string[threads];
        var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            using var engine = mlContext.Model.CreatePredictionEngine<SequenceRow, LstmClassifierTrainingTests.ScoredRow>(
                keyer.Append(model), new PredictionEngineOptions { OwnsTransformer = false });
            try
            {
                // Predicts until the model is disposed; signals once it is predicting for sure.
                for (long i = 0; ; i++)
                {
                    engine.Predict(row);
                    if (i == 0)
                        predicting.Signal();
                }
            }
            catch (ObjectDisposedException)
            {
                outcomes[t] = "disposed";
            }
        }) { IsBackground = true }).ToList(); // should Dispose ever stop them failing, they must not keep the test host alive
        workers.ForEach(w => w.Start());
        Assert.That(predicting.Wait(TimeSpan.FromMinutes(1)), "every thread is predicting");
        model.Dispose();
        Assert.That(workers.All(w => w.Join(TimeSpan.FromMinutes(1))), "every thread stopped");
        Assert.That(outcomes, Has.All.EqualTo("disposed"));
    }

    [Test]
    public void LoadPredictDisposeCyclesDoNotGrowMemory()
    {
        // A network of about a megabyte, so that one leaked network per cycle would stand out.
        var mlContext = new MLContext(seed: 1);
        var options = SyntheticSequences.QuickOptions();
        options.HiddenSize = 256;
        options.TrainingSamples = 32;
        var data = SyntheticSequences.Load(mlContext, 40, 1);
        var trained = mlContext.Transforms.Conversion.MapValueToKey("Label").Append(mlContext.Transforms.LstmClassifier(options)).Fit(data);
        long networkBytes = trained.LastTransformer.Model.Shape.WeightCount * sizeof(float);
        var path = Path.Combine(Path.GetTempPath(), $"mlnetlstm-cycles-{Guid.NewGuid():N}.zip");
        mlContext.Model.Save(trained, data.Schema, path);
        trained.LastTransformer.Dispose();
        var row = SyntheticSequences.Make(1, 5)[0];
        try
        {
            void Cycles(int count)
            {
                for (int i = 0; i < count; i++)
                {
                    var context = new MLContext();
                    var model = context.Model.Load(path, out _);
                    using (var engine = context.Model.CreatePredictionEngine<SequenceRow, LstmClassifierTrainingTests.ScoredRow>(model))
                        Assert.That(engine.Predict(row).Score, Has.Length.EqualTo(3));
                    // The engine owned and disposed the model; disposing again must be harmless.
                    ((IDisposable)model).Dispose();
                }
            }
            const int cycles = 200;
            Cycles(cycles); // warm-up: allocator pools, the GC heap and the JIT settle
            long before = Benchmarks.Statistics.ResidentBytes();
            Cycles(cycles);
            long after = Benchmarks.Statistics.ResidentBytes();
            double leakOfOneNetworkPerCycle = cycles * (double)networkBytes;
            TestContext.Out.WriteLine($"RSS {before / 1e6:F1} MB -> {after / 1e6:F1} MB over {cycles} cycles; one leaked network per cycle would add {leakOfOneNetworkPerCycle / 1e6:F0} MB");
            Assert.That(after - before, Is.LessThan(leakOfOneNetworkPerCycle / 4), "memory stays flat over load/predict/dispose cycles");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void TrainingIsBitwiseRepeatableAcrossProcesses()
    {
        static string Run() => ChildProcess.RunTestProgram("fit-hash").Trim();
        var inProcess = Program.FitHash();
        Assert.That(Run(), Is.EqualTo(inProcess));
        Assert.That(Run(), Is.EqualTo(inProcess));
    }

    [Test]
    public void CancelledTrainingLeavesFittedModelsUsable()
    {
        var mlContext = new MLContext(seed: 1);
        var data = SyntheticSequences.Load(mlContext, 200, 3);
        var quick = SyntheticSequences.QuickOptions();
        quick.TrainingSamples = 64;
        var keyer = mlContext.Transforms.Conversion.MapValueToKey("Label").Fit(data);
        var keyed = keyer.Transform(data);
        using var fitted = mlContext.Transforms.LstmClassifier(quick).Fit(keyed);
        var before = fitted.Transform(keyed).GetColumn<float[]>("Score").Select(ScoreText.Format).ToArray();

        var endless = SyntheticSequences.QuickOptions();
        endless.TrainingSamples = 10_000_000;
        endless.Progress = new SynchronousProgress<LstmTrainingProgress>(_ => mlContext.CancelExecution());
        Assert.Throws<OperationCanceledException>(() => mlContext.Transforms.LstmClassifier(endless).Fit(keyed));

        Assert.That(fitted.Transform(keyed).GetColumn<float[]>("Score").Select(ScoreText.Format), Is.EqualTo(before));
        using var engine = mlContext.Model.CreatePredictionEngine<SequenceRow, LstmClassifierTrainingTests.ScoredRow>(
            keyer.Append(fitted), new PredictionEngineOptions { OwnsTransformer = false });
        Assert.That(engine.Predict(SyntheticSequences.Make(1, 9)[0]).Score, Has.Length.EqualTo(3));
    }

    private static void Collect(DataViewRowCursor cursor, Dictionary<ulong, string> into)
    {
        var score = cursor.GetGetter<VBuffer<float>>(cursor.Schema["Score"]);
        var predicted = cursor.GetGetter<uint>(cursor.Schema["PredictedLabel"]);
        var id = cursor.GetIdGetter();
        VBuffer<float> value = default;
        uint key = 0;
        DataViewRowId rowId = default;
        while (cursor.MoveNext())
        {
            score(ref value);
            predicted(ref key);
            id(ref rowId);
            into.Add(rowId.Low, ScoreText.Format(value.DenseValues().ToArray()) + "/" + key);
        }
    }

    public sealed class TaggedRow
    {
        public float Index { get; set; }
        public string Label { get; set; } = "";

        [VectorType(SequenceRow.Length)]
        public float[] Features { get; set; } = Array.Empty<float>();
    }

    public sealed class TaggedScore
    {
        public float Index { get; set; }
        public float[] Score { get; set; } = Array.Empty<float>();
    }
}
