using System.Text.Json;

namespace MlNetLstm.Tests;

/// <summary>Runs the benchmark program's quick mode so it cannot rot; speed itself is never asserted.</summary>
public class BenchmarkQuickModeTests
{
    [Test]
    public void QuickModeWritesEveryFigure()
    {
        var json = Path.Combine(Path.GetTempPath(), $"mlnetlstm-bench-{Guid.NewGuid():N}.json");
        try
        {
            Assert.That(Benchmarks.Program.Main(new[] { "--quick", "--json", json }), Is.EqualTo(0));
            using var document = JsonDocument.Parse(File.ReadAllText(json));
            var root = document.RootElement;
            foreach (var key in new[]
            {
                "fit_samples_per_s", "raw_train_samples_per_s", "fit_vs_raw_ratio", "transform_samples_per_s",
                "raw_infer_samples_per_s", "transform_vs_raw_ratio", "prediction_engine_p50_ms", "prediction_engine_p99_ms",
                "gemm_gflops", "train_gflops", "infer_gflops", "rss_growth_ratio",
                "http_p50_ms", "http_p99_ms", "http_requests_per_s", "http_engine_pool_requests_per_s", "http_transformer_requests_per_s",
                "raw_thp_train_samples_per_s", "fit_vs_raw_thp_ratio",
                "fit_under_load_samples_per_s", "fit_under_load_ratio", "fit_under_load_all_cores_ratio",
            })
            {
                Assert.That(root.GetProperty(key).GetDouble(), Is.GreaterThan(0).And.Not.NaN, key);
            }
            // The peak is measured with x86 fused multiply-adds; without them it and the fractions are null.
            bool fma = System.Runtime.Intrinsics.X86.Fma.IsSupported;
            foreach (var key in new[] { "fma_peak_gflops", "fma_slowest_round_gflops", "train_peak_fraction", "raw_train_peak_fraction", "infer_peak_fraction" })
            {
                if (fma)
                    Assert.That(root.GetProperty(key).GetDouble(), Is.GreaterThan(0), key);
                else
                    Assert.That(root.GetProperty(key).ValueKind, Is.EqualTo(JsonValueKind.Null), key);
            }
            // Every answer of the service under load is the offline PredictionEngine's.
            Assert.That(root.GetProperty("http_requests").GetInt32(), Is.GreaterThan(0));
            Assert.That(root.GetProperty("http_errors").GetInt32(), Is.Zero);
            Assert.That(root.GetProperty("http_mismatches").GetInt32(), Is.Zero);
            var baselines = root.GetProperty("baselines").EnumerateArray().ToList();
            Assert.That(baselines.Select(b => b.GetProperty("name").GetString()), Has.Some.Contains("Sdca"));
            Assert.That(baselines, Has.All.Matches<JsonElement>(b => b.TryGetProperty("train_seconds", out _) && b.TryGetProperty("micro_accuracy", out _)));
        }
        finally
        {
            File.Delete(json);
        }
    }

    [Test]
    public void BadArgumentsExitWithUsage()
    {
        Assert.That(Benchmarks.Program.Main(new[] { "--repeats", "0" }), Is.EqualTo(2));
        Assert.That(Benchmarks.Program.Main(new[] { "--frobnicate" }), Is.EqualTo(2));
    }
}
