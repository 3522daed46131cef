namespace MlNetLstm.Benchmarks;

public sealed record Baseline(string Name, double TrainSeconds, double MicroAccuracy, string? Error = null);

/// <summary>All figures of one run; medians where repeated.</summary>
public sealed class BenchmarkResults
{
    public int Threads { get; init; }
    public bool Quick { get; init; }
    public long TrainSamples { get; init; }
    public double FitSamplesPerSecond { get; set; }
    public double RawTrainSamplesPerSecond { get; set; }
    public double TransformSamplesPerSecond { get; set; }
    public double RawInferSamplesPerSecond { get; set; }
    public double PredictionEngineSamplesPerSecond { get; set; }
    public double PredictionEngineP50Ms { get; set; }
    public double PredictionEngineP99Ms { get; set; }
    public double GemmGflops { get; set; }
    public double TrainGflops { get; set; }
    public double RawTrainGflops { get; set; }
    public double InferGflops { get; set; }
    public double FmaPeakGflops { get; set; }
    /// <summary>The slowest round of the peak's: well below the peak when the machine took a core away meanwhile.</summary>
    public double FmaSlowestRoundGflops { get; set; }
    public double TrainPeakFraction => TrainGflops / FmaPeakGflops;
    public double RawTrainPeakFraction => RawTrainGflops / FmaPeakGflops;
    public double InferPeakFraction => InferGflops / FmaPeakGflops;

    /// <summary>The test rows scored from memory (no data view read, no rows served), in the same rounds as the Transform.</summary>
    public double BatchScoringSamplesPerSecond { get; set; }
    public double BatchInferGflops { get; set; }
    public double BatchInferPeakFraction => BatchInferGflops / FmaPeakGflops;

    /// <summary>
    /// Median over the timed passes of the Transform's speed ÷ the speed of scoring the same rows from
    /// memory just after it (below 1 by the cursor's cost: reading and serving rows), apart from the machine's spell.
    /// </summary>
    public double TransformVsBatchRatio { get; set; }
    public double RawThpTrainSamplesPerSecond { get; set; }

    /// <summary>Median over interleaved pairs of Fit / the raw loop run with the libtorch settings the library applies.</summary>
    public double FitVsRawThpRatio { get; set; }

    public FitUnderLoad.Figures? UnderLoad { get; set; }
    public long RssBeforeBytes { get; set; }
    public long RssAfterTransformsBytes { get; set; }
    public long RssAfterPredictionsBytes { get; set; }
    public double RssGrowthRatio { get; set; }
    public SmallFitUnderLoad.SmallFitSeconds? SmallFit { get; set; }
    public OnnxRuntimeScoring.Figures? Onnx { get; set; }
    public HttpLoadRun.Results? Http { get; set; }
    public List<Baseline> Baselines { get; } = new();

    /// <summary>Median over interleaved pairs of the Fit / raw training throughput ratio.</summary>
    public double FitVsRawRatio { get; set; }

    /// <summary>Median over interleaved pairs of the Transform / raw inference throughput ratio.</summary>
    public double TransformVsRawRatio { get; set; }

    public Dictionary<string, object?> ToJson() => new()
    {
        ["threads"] = Threads,
        ["quick"] = Quick,
        ["train_samples"] = TrainSamples,
        ["fit_samples_per_s"] = FitSamplesPerSecond,
        ["raw_train_samples_per_s"] = RawTrainSamplesPerSecond,
        ["fit_vs_raw_ratio"] = FitVsRawRatio,
        ["raw_thp_train_samples_per_s"] = RawThpTrainSamplesPerSecond,
        ["fit_vs_raw_thp_ratio"] = FitVsRawThpRatio,
        ["fit_under_load_samples_per_s"] = UnderLoad?.LoadedSamplesPerSecond,
        ["fit_under_load_ratio"] = UnderLoad?.Ratio,
        ["fit_under_load_all_cores_samples_per_s"] = UnderLoad?.LoadedAllCoresSamplesPerSecond,
        ["fit_under_load_all_cores_ratio"] = UnderLoad?.AllCoresRatio,
        ["transform_samples_per_s"] = TransformSamplesPerSecond,
        ["raw_infer_samples_per_s"] = RawInferSamplesPerSecond,
        ["transform_vs_raw_ratio"] = TransformVsRawRatio,
        ["batch_scoring_samples_per_s"] = BatchScoringSamplesPerSecond,
        ["transform_vs_batch_ratio"] = TransformVsBatchRatio,
        ["prediction_engine_samples_per_s"] = PredictionEngineSamplesPerSecond,
        ["prediction_engine_p50_ms"] = PredictionEngineP50Ms,
        ["prediction_engine_p99_ms"] = PredictionEngineP99Ms,
        ["onnx_infer_samples_per_s"] = Onnx?.SamplesPerSecond,
        ["onnx_single_row_p50_ms"] = Onnx?.SingleRowP50Ms,
        ["onnx_single_row_p99_ms"] = Onnx?.SingleRowP99Ms,
        ["http_clients"] = Http is null ? null : HttpLoadRun.Clients,
        ["http_requests"] = Http?.Default.Requests,
        ["http_errors"] = Http?.Default.Errors,
        ["http_mismatches"] = Http?.Default.Mismatches,
        ["http_p50_ms"] = Http?.Default.P50Ms,
        ["http_p99_ms"] = Http?.Default.P99Ms,
        ["http_requests_per_s"] = Http?.Default.RequestsPerSecond,
        ["http_engine_pool_requests_per_s"] = Http?.Engines,
        ["http_transformer_requests_per_s"] = Http?.Transformer,
        ["http_engine_pool_p50_ms"] = Http?.EnginesP50Ms,
        ["http_transformer_p50_ms"] = Http?.TransformerP50Ms,
        ["gemm_gflops"] = GemmGflops,
        ["train_gflops"] = TrainGflops,
        ["raw_train_gflops"] = RawTrainGflops,
        ["infer_gflops"] = InferGflops,
        ["fma_peak_gflops"] = Finite(FmaPeakGflops),
        ["fma_slowest_round_gflops"] = Finite(FmaSlowestRoundGflops),
        ["train_peak_fraction"] = Finite(TrainPeakFraction),
        ["raw_train_peak_fraction"] = Finite(RawTrainPeakFraction),
        ["infer_peak_fraction"] = Finite(InferPeakFraction),
        ["batch_infer_peak_fraction"] = Finite(BatchInferPeakFraction),
        ["rss_before_bytes"] = RssBeforeBytes,
        ["rss_after_transforms_bytes"] = RssAfterTransformsBytes,
        ["rss_after_predictions_bytes"] = RssAfterPredictionsBytes,
        ["rss_growth_ratio"] = RssGrowthRatio,
        ["small_fit_default_s"] = SmallFit?.Default,
        ["small_fit_one_thread_s"] = SmallFit?.OneThread,
        ["small_fit_all_cores_s"] = SmallFit?.AllCores,
        ["small_fit_under_load_default_s"] = SmallFit?.LoadedDefault,
        ["small_fit_under_load_one_thread_s"] = SmallFit?.LoadedOneThread,
        ["small_fit_under_load_all_cores_s"] = SmallFit?.LoadedAllCores,
        ["small_fit_under_load_default_vs_one_thread"] = SmallFit?.LoadedDefault / SmallFit?.LoadedOneThread,
        ["baselines"] = Baselines.Select(b => new Dictionary<string, object?>
        {
            ["name"] = b.Name,
            ["train_seconds"] = double.IsNaN(b.TrainSeconds) ? null : b.TrainSeconds,
            ["micro_accuracy"] = double.IsNaN(b.MicroAccuracy) ? null : b.MicroAccuracy,
            ["error"] = b.Error,
        }).ToList(),
    };

    /// <summary>Null for a figure that was not measured (NaN), which JSON cannot hold.</summary>
    private static double? Finite(double value) => double.IsFinite(value) ? value : null;

    public void PrintTable(TextWriter output)
    {
        output.WriteLine();
        output.WriteLine($"{"measure",-54} {"value",14}");
        void Row(string name, double value, string format = "F0") => output.WriteLine($"{name,-54} {value.ToString(format),14}");
        Row("training, raw TorchSharp (samples/s)", RawTrainSamplesPerSecond);
        Row("training, LstmClassifier Fit (samples/s)", FitSamplesPerSecond);
        Row("  fit_vs_raw_ratio", FitVsRawRatio, "F3");
        Row("training, raw at its best: own process, THP_MEM_ALLOC_ENABLE=1 (samples/s)", RawThpTrainSamplesPerSecond);
        Row("  fit_vs_raw_thp_ratio", FitVsRawThpRatio, "F3");
        if (UnderLoad is { } load)
        {
            Row("training, Fit beside a busy process (samples/s)", load.LoadedSamplesPerSecond);
            Row("  fit_under_load_ratio", load.Ratio, "F3");
            Row($"  all {Threads} threads fixed (samples/s)", load.LoadedAllCoresSamplesPerSecond);
            Row($"  all {Threads} threads fixed: ratio", load.AllCoresRatio, "F3");
        }
        Row("inference, raw no_grad (samples/s)", RawInferSamplesPerSecond);
        Row("inference, Transform cursor (samples/s)", TransformSamplesPerSecond);
        Row("  transform_vs_raw_ratio", TransformVsRawRatio, "F3");
        Row("inference, the same rows scored from memory (samples/s)", BatchScoringSamplesPerSecond);
        Row("  transform_vs_batch_ratio", TransformVsBatchRatio, "F3");
        Row("inference, PredictionEngine (samples/s)", PredictionEngineSamplesPerSecond);
        Row("  single-row latency p50 (ms)", PredictionEngineP50Ms, "F3");
        Row("  single-row latency p99 (ms)", PredictionEngineP99Ms, "F3");
        if (Onnx is { } onnx)
        {
            Row("inference, ONNX Runtime batched (samples/s)", onnx.SamplesPerSecond);
            Row("  ONNX Runtime single-row p50 (ms)", onnx.SingleRowP50Ms, "F3");
            Row("  ONNX Runtime single-row p99 (ms)", onnx.SingleRowP99Ms, "F3");
        }
        if (Http is { } http)
        {
            Row($"HTTP POST /predict, {HttpLoadRun.Clients} clients (requests/s)", http.Default.RequestsPerSecond);
            Row("  latency p50 (ms)", http.Default.P50Ms, "F2");
            Row("  latency p99 (ms)", http.Default.P99Ms, "F2");
            Row($"  errors + wrong answers (of {http.Default.Requests:N0})", http.Default.Errors + http.Default.Mismatches);
            Row("  --scoring engines (requests/s)", http.Engines);
            Row("  --scoring transformer (requests/s)", http.Transformer);
        }
        Row("float32 GEMM 1024^3 (GFLOP/s)", GemmGflops, "F1");
        Row("training, Fit (GFLOP/s)", TrainGflops, "F1");
        Row("training, raw (GFLOP/s)", RawTrainGflops, "F1");
        Row("inference, Transform (GFLOP/s)", InferGflops, "F1");
        Row($"float32 FMA peak, {PeakFlops.Instructions} (GFLOP/s)", FmaPeakGflops, "F1");
        Row("  slowest of its rounds (GFLOP/s)", FmaSlowestRoundGflops, "F1");
        Row("  train_peak_fraction", TrainPeakFraction, "F3");
        Row("  raw_train_peak_fraction", RawTrainPeakFraction, "F3");
        Row("  infer_peak_fraction", InferPeakFraction, "F3");
        Row("  batch_infer_peak_fraction (scored from memory)", BatchInferPeakFraction, "F3");
        Row("RSS before (MB)", RssBeforeBytes / 1e6, "F1");
        Row("RSS after 20 transforms (MB)", RssAfterTransformsBytes / 1e6, "F1");
        Row("RSS after 200 predictions (MB)", RssAfterPredictionsBytes / 1e6, "F1");
        Row("  rss_growth_ratio", RssGrowthRatio, "F3");
        if (SmallFit is { } small)
        {
            output.WriteLine($"{"small fit 40 x 100 x 6 (s): default / 1 / all",-44} {"",8}");
            output.WriteLine($"{"  idle",-44} {small.Default,8:F3} {small.OneThread,8:F3} {small.AllCores,8:F3}");
            output.WriteLine($"{"  one CPU-bound process competing",-44} {small.LoadedDefault,8:F3} {small.LoadedOneThread,8:F3} {small.LoadedAllCores,8:F3}");
        }
        output.WriteLine();
        output.WriteLine($"{"model",-40} {"train s",9} {"accuracy",9}");
        foreach (var b in Baselines)
            output.WriteLine($"{b.Name,-40} {b.TrainSeconds,9:F1} {b.MicroAccuracy,9:F4}{(b.Error is null ? "" : "  (" + b.Error + ")")}");
    }
}
