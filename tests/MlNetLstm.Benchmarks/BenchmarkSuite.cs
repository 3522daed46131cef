using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using static TorchSharp.torch;

namespace MlNetLstm.Benchmarks;

/// <summary>Runs every measurement; each contender pair is interleaved and repeated.</summary>
public sealed class BenchmarkSuite(BenchmarkSettings settings, TextWriter log)
{
    private const int RawInferenceBatch = 1024;

    /// <summary>Longer than the library's idle scoring threads live (200 ms).</summary>
    private static readonly TimeSpan ScoringThreadsEnded = TimeSpan.FromMilliseconds(300);

    /// <summary>Longer than OpenMP's spinning after a parallel region.</summary>
    private static readonly TimeSpan OpenMpSpinEnded = TimeSpan.FromMilliseconds(50);

    public BenchmarkResults Run()
    {
        var mlContext = new MLContext(seed: 1);
        // As in an application, the pipeline is built before any tensor exists, which lets the library
        // apply its process-wide libtorch settings (see TorchRuntime in the library).
        _ = mlContext.Transforms.LstmClassifier();
        using var data = BenchmarkData.Load(mlContext, settings.DataFolder);
        var results = new BenchmarkResults { Threads = get_num_threads(), Quick = settings.Quick, TrainSamples = settings.TrainSamples };
        log.WriteLine($"MNIST {data.TrainRows} train / {data.TestRows.Count} test rows, {results.Threads} torch threads, {settings.Repeats} repeats");

        // Warm-up: JIT, libtorch kernels and allocator caches.
        using (Fit(mlContext, data.Train, 256)) { }

        MeasureTraining(mlContext, data, results);
        results.UnderLoad = FitUnderLoad.Measure(mlContext, data.Train, settings.TrainSamples, settings.Repeats, log);
        using var model = Fit(mlContext, data.Train, settings.Quick ? 1_280 : 12_800);
        MeasureInference(mlContext, data, model, results);
        results.Onnx = OnnxRuntimeScoring.Measure(mlContext, model, data.TestRows, settings.DataFolder,
            passes: settings.Quick ? 1 : 5, singleRows: settings.Quick ? 100 : 1_000);
        log.WriteLine($"  ONNX Runtime: {results.Onnx.SamplesPerSecond:F0} rows/s batched, single row p50 {results.Onnx.SingleRowP50Ms:F3} ms");
        results.Http = HttpLoadRun.Measure(mlContext, data.Train, model, data.TestRows, requests: settings.Quick ? 400 : 10_000,
            warmUp: TimeSpan.FromSeconds(settings.Quick ? 0.5 : 15), rounds: settings.Quick ? 1 : settings.Repeats,
            comparisonRequests: settings.Quick ? 200 : 5_000, log);
        MeasureGemm(results);
        MeasureMemory(mlContext, data, model, results);
        results.SmallFit = SmallFitUnderLoad.Measure(settings.Quick ? 1 : settings.Repeats, log);
        if (settings.Baselines)
            MeasureBaselines(mlContext, data, results);
        return results;
    }

    private void MeasureTraining(MLContext mlContext, BenchmarkData data, BenchmarkResults results)
    {
        var raw = new List<double>();
        var rawThp = new List<double>();
        var fit = new List<double>();
        for (int r = 0; r < settings.Repeats; r++)
        {
            raw.Add(RawTrainingProcess.SamplesPerSecond(settings.TrainSamples, settings.DataFolder));
            rawThp.Add(RawTrainingProcess.SamplesPerSecond(settings.TrainSamples, settings.DataFolder, RawTrainingProcess.HugePages));
            fit.Add(FitSamplesPerSecond(mlContext, data.Train, settings.TrainSamples));
            log.WriteLine($"  training repeat {r + 1}: raw {raw[^1]:F0}/s, raw with huge pages {rawThp[^1]:F0}/s, Fit {fit[^1]:F0}/s");
        }
        results.RawTrainSamplesPerSecond = Statistics.Median(raw);
        results.RawThpTrainSamplesPerSecond = Statistics.Median(rawThp);
        results.FitSamplesPerSecond = Statistics.Median(fit);
        results.FitVsRawRatio = Statistics.Median(raw.Zip(fit, (r, f) => f / r));
        results.FitVsRawThpRatio = Statistics.Median(rawThp.Zip(fit, (r, f) => f / r));
    }

    /// <summary>Samples per second of one Fit with the reference settings and the given thread setting (null: the library's choice).</summary>
    internal static double FitSamplesPerSecond(MLContext mlContext, IDataView train, long samples, int? threads = null)
    {
        var clock = Stopwatch.StartNew();
        using (Fit(mlContext, train, samples, threads)) { }
        return samples / clock.Elapsed.TotalSeconds;
    }

    private void MeasureInference(MLContext mlContext, BenchmarkData data, LstmClassifierTransformer model, BenchmarkResults results)
    {
        using var rawModel = new RawLstmClassifier();
        using var inMemory = new InMemoryScoring(model, data.Test);
        var engineInput = data.TestRows.Take(settings.Quick ? 100 : 1_000).ToList();
        var raw = new List<double>();
        var transform = new List<double>();
        var batchScoring = new List<double>();
        var transformVsBatch = new List<double>();
        var engine = new List<double>();
        var latencies = new List<double>();
        int testCount = data.TestRows.Count;
        // Scoring reads only the features: the test data goes in as it is, cached in memory like the
        // raw contender's tensor.
        // Raw and Transform passes over the test set alternate, so a slow spell of the machine hits
        // both; the ratio is the median of the pairs' ratios.
        int passes = settings.Quick ? 1 : 5;
        var pairRatios = new List<double>();
        for (int r = 0; r < settings.Repeats + 1; r++)
        {
            for (int p = 0; p < passes; p++)
            {
                // Each pass starts on a quiet machine. The raw pass: after the library's scoring threads have
                // ended (idle threads known to OpenMP make libtorch's parallel regions wait passively). The
                // Transform: after libtorch's OpenMP threads stop spinning at the raw pass's end (a Transform
                // started at once ran 4 % slower beside them).
                Thread.Sleep(ScoringThreadsEnded);
                double rawSeconds = RawLstmClassifier.Infer(rawModel, data.TestFeatures, RawInferenceBatch);
                Thread.Sleep(OpenMpSpinEnded);
                double transformSeconds = Statistics.Seconds(() => ReadScores(model.Transform(data.Test)));
                // The same rows scored from memory, also after the scoring threads have ended, as the Transform was.
                Thread.Sleep(ScoringThreadsEnded);
                double batchSeconds = inMemory.ScoreSeconds();
                if (r == 0)
                    continue; // warm-up round
                raw.Add(testCount / rawSeconds);
                transform.Add(testCount / transformSeconds);
                pairRatios.Add(rawSeconds / transformSeconds);
                batchScoring.Add(inMemory.Rows / batchSeconds);
                transformVsBatch.Add(batchSeconds / transformSeconds * testCount / inMemory.Rows);
            }
            var (engineSeconds, rowLatencies) = PredictOneByOne(mlContext, model, engineInput);
            if (r == 0)
                continue;
            engine.Add(engineInput.Count / engineSeconds);
            latencies.AddRange(rowLatencies);
        }
        results.TransformVsRawRatio = Statistics.Median(pairRatios);
        results.RawInferSamplesPerSecond = Statistics.Median(raw);
        results.TransformSamplesPerSecond = Statistics.Median(transform);
        results.BatchScoringSamplesPerSecond = Statistics.Median(batchScoring);
        results.TransformVsBatchRatio = Statistics.Median(transformVsBatch);
        results.PredictionEngineSamplesPerSecond = Statistics.Median(engine);
        results.PredictionEngineP50Ms = Statistics.Percentile(latencies, 0.50);
        results.PredictionEngineP99Ms = Statistics.Percentile(latencies, 0.99);
    }

    private static (double Seconds, List<double> LatenciesMs) PredictOneByOne(
        MLContext mlContext, LstmClassifierTransformer model, List<DigitRow> rows)
    {
        var engineModel = mlContext.Transforms.Conversion.MapValueToKey("Label").Fit(mlContext.Data.LoadFromEnumerable(rows)).Append(model);
        // The engine must not dispose the shared model when it is disposed (ML.NET's default).
        using var engine = mlContext.Model.CreatePredictionEngine<DigitRow, DigitPrediction>(
            engineModel, new PredictionEngineOptions { OwnsTransformer = false });
        var latencies = new List<double>(rows.Count);
        var prediction = new DigitPrediction();
        var total = Stopwatch.StartNew();
        foreach (var row in rows)
        {
            long start = Stopwatch.GetTimestamp();
            engine.Predict(row, ref prediction);
            latencies.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }
        return (total.Elapsed.TotalSeconds, latencies);
    }

    private void MeasureGemm(BenchmarkResults results)
    {
        const int n = 1024;
        using var scope = NewDisposeScope();
        var a = randn(n, n);
        var b = randn(n, n);
        mm(a, b).Dispose();
        int repeats = settings.Quick ? 3 : 20;
        double seconds = Statistics.Seconds(() =>
        {
            for (int i = 0; i < repeats; i++)
                mm(a, b).Dispose();
        });
        results.GemmGflops = repeats * 2.0 * n * n * n / seconds / 1e9;
        results.TrainGflops = results.FitSamplesPerSecond * Flops.TrainPerSample / 1e9;
        results.RawTrainGflops = results.RawTrainSamplesPerSecond * Flops.TrainPerSample / 1e9;
        results.InferGflops = results.TransformSamplesPerSecond * Flops.ForwardPerSample / 1e9;
        results.BatchInferGflops = results.BatchScoringSamplesPerSecond * Flops.ForwardPerSample / 1e9;
        double roundSeconds = settings.Quick ? 0.1 : 0.5;
        var rounds = PeakFlops.MeasureGflops(TimeSpan.FromSeconds(roundSeconds), rounds: settings.Quick ? 3 : 6);
        results.FmaPeakGflops = rounds.Length == 0 ? double.NaN : rounds.Max();
        results.FmaSlowestRoundGflops = rounds.Length == 0 ? double.NaN : rounds.Min();
        log.WriteLine(rounds.Length == 0
            ? $"  float32 peak: not measured ({PeakFlops.Instructions})"
            : $"  float32 peak ({PeakFlops.Instructions}, {Environment.ProcessorCount} threads): {results.FmaPeakGflops:F0} GFLOP/s " +
              $"(rounds of {roundSeconds} s: {string.Join(", ", rounds.Select(r => r.ToString("F0")))}); " +
              $"training at {results.TrainPeakFraction:P0} of it, inference at {results.InferPeakFraction:P0}");
    }

    private void MeasureMemory(MLContext mlContext, BenchmarkData data, LstmClassifierTransformer model, BenchmarkResults results)
    {
        ReadScores(model.Transform(data.Test));
        PredictOneByOne(mlContext, model, data.TestRows.Take(20).ToList());
        long before = Statistics.ResidentBytes();
        for (int i = 0; i < (settings.Quick ? 5 : 20); i++)
            ReadScores(model.Transform(data.Test));
        long afterTransforms = Statistics.ResidentBytes();
        PredictOneByOne(mlContext, model, data.TestRows.Take(200).ToList());
        long afterPredictions = Statistics.ResidentBytes();
        results.RssBeforeBytes = before;
        results.RssAfterTransformsBytes = afterTransforms;
        results.RssAfterPredictionsBytes = afterPredictions;
        results.RssGrowthRatio = Math.Max(afterTransforms, afterPredictions) / (double)before;
    }

    private void MeasureBaselines(MLContext mlContext, BenchmarkData data, BenchmarkResults results)
    {
        var train = settings.Quick ? mlContext.Data.TakeRows(data.Train, 500) : data.Train;
        var label = mlContext.Transforms.Conversion.MapValueToKey("Label");
        var contenders = new (string Name, IEstimator<ITransformer> Pipeline)[]
        {
            ("LstmClassifier (reference settings)", label.Append(mlContext.Transforms.LstmClassifier(
                new LstmClassifierOptions { TrainingSamples = settings.Quick ? 1_280 : 100_000, Seed = 1 }))),
            ("SdcaMaximumEntropy", label.Append(mlContext.MulticlassClassification.Trainers.SdcaMaximumEntropy(
                maximumNumberOfIterations: settings.Quick ? 2 : null))),
            ("LightGbm", label.Append(mlContext.MulticlassClassification.Trainers.LightGbm(
                numberOfIterations: settings.Quick ? 5 : 100))),
        };
        foreach (var (name, pipeline) in contenders)
        {
            try
            {
                var clock = Stopwatch.StartNew();
                var model = pipeline.Fit(train);
                double seconds = clock.Elapsed.TotalSeconds;
                var metrics = mlContext.MulticlassClassification.Evaluate(model.Transform(data.Test));
                results.Baselines.Add(new Baseline(name, seconds, metrics.MicroAccuracy));
                (model as IDisposable)?.Dispose();
                log.WriteLine($"  {name}: {seconds:F1} s, accuracy {metrics.MicroAccuracy:F4}");
            }
            catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or InvalidOperationException)
            {
                log.WriteLine($"  {name}: could not run here ({e.GetType().Name}: {e.Message})");
                results.Baselines.Add(new Baseline(name, double.NaN, double.NaN, e.Message));
            }
        }
    }

    private static LstmClassifierTransformer Fit(MLContext mlContext, IDataView train, long samples, int? threads = null)
    {
        var keyed = Keyed(mlContext, train);
        return mlContext.Transforms.LstmClassifier(new LstmClassifierOptions { TrainingSamples = samples, Seed = 1, NumberOfThreads = threads }).Fit(keyed);
    }

    private static IDataView Keyed(MLContext mlContext, IDataView data) =>
        mlContext.Transforms.Conversion.MapValueToKey("Label").Fit(data).Transform(data);

    /// <summary>Reads Score and PredictedLabel of every row, as an application consuming the output would.</summary>
    private static void ReadScores(IDataView scored)
    {
        var columns = new[] { scored.Schema["Score"], scored.Schema["PredictedLabel"] };
        using var cursor = scored.GetRowCursor(columns);
        var score = cursor.GetGetter<VBuffer<float>>(columns[0]);
        var predicted = cursor.GetGetter<uint>(columns[1]);
        VBuffer<float> scoreValue = default;
        uint key = 0;
        while (cursor.MoveNext())
        {
            score(ref scoreValue);
            predicted(ref key);
        }
    }
}
