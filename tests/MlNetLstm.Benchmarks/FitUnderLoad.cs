using Microsoft.ML;

namespace MlNetLstm.Benchmarks;

/// <summary>
/// Fit with the reference settings while one CPU-bound process competes for the cores, against Fit on
/// the idle machine: with the library's thread choice, and with every core's thread fixed (what
/// libtorch's default does without the library's choice). Idle and loaded fits alternate, the two loaded
/// ones in turns of order; ratios are medians of the pairs.
/// </summary>
public static class FitUnderLoad
{
    public sealed record Figures(
        double IdleSamplesPerSecond, double LoadedSamplesPerSecond, double Ratio,
        double LoadedAllCoresSamplesPerSecond, double AllCoresRatio);

    public static Figures Measure(MLContext mlContext, IDataView train, long samples, int repeats, TextWriter log)
    {
        int cores = Environment.ProcessorCount;
        var idle = new List<double>();
        var loaded = new List<double>();
        var loadedAllCores = new List<double>();
        for (int r = 0; r < repeats; r++)
        {
            idle.Add(BenchmarkSuite.FitSamplesPerSecond(mlContext, train, samples));
            SmallFitUnderLoad.WithCompetitor(() =>
            {
                // Either may go first: a busy process that has just started may not compete at full strength yet.
                if (r % 2 == 0)
                {
                    loaded.Add(BenchmarkSuite.FitSamplesPerSecond(mlContext, train, samples));
                    loadedAllCores.Add(BenchmarkSuite.FitSamplesPerSecond(mlContext, train, samples, threads: cores));
                }
                else
                {
                    loadedAllCores.Add(BenchmarkSuite.FitSamplesPerSecond(mlContext, train, samples, threads: cores));
                    loaded.Add(BenchmarkSuite.FitSamplesPerSecond(mlContext, train, samples));
                }
            });
            log.WriteLine($"  fit under load repeat {r + 1}: idle {idle[^1]:F0}/s, beside a busy process {loaded[^1]:F0}/s " +
                $"(all {cores} threads fixed: {loadedAllCores[^1]:F0}/s)");
        }
        return new Figures(
            Statistics.Median(idle), Statistics.Median(loaded), Statistics.Median(idle.Zip(loaded, (i, l) => l / i)),
            Statistics.Median(loadedAllCores), Statistics.Median(idle.Zip(loadedAllCores, (i, l) => l / i)));
    }
}
