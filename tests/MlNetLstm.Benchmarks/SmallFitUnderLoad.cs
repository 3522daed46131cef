using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MlNetLstm.Benchmarks;

/// <summary>
/// A small time-series fit (40 rows of 100 steps × 6 channels) with the library's default thread count
/// against one thread, on an idle machine and with one CPU-bound process competing — each fit in a
/// process of its own, as libtorch's thread pool is process-wide.
/// </summary>
public static class SmallFitUnderLoad
{
    public const string FitVerb = "--small-fit-child";
    public const string BusyVerb = "--busy-child";
    private const int FitsPerChild = 5;

    /// <summary>Median seconds of a small fit with the default, one and all cores' threads: idle, then under load.</summary>
    public static SmallFitSeconds Measure(int repeats, TextWriter log)
    {
        int cores = Environment.ProcessorCount;
        var idle = new[] { new List<double>(), new List<double>(), new List<double>() };
        var loaded = new[] { new List<double>(), new List<double>(), new List<double>() };
        var threadCounts = new[] { 0, 1, cores };
        for (int r = 0; r < repeats; r++)
        {
            for (int k = 0; k < threadCounts.Length; k++)
                idle[k].Add(RunChild(threadCounts[k]));
            WithCompetitor(() =>
            {
                for (int k = 0; k < threadCounts.Length; k++)
                    loaded[k].Add(RunChild(threadCounts[k]));
            });
            log.WriteLine($"  small fit repeat {r + 1}: idle default/1/{cores} threads {idle[0][^1]:F3}/{idle[1][^1]:F3}/{idle[2][^1]:F3} s; " +
                $"loaded {loaded[0][^1]:F3}/{loaded[1][^1]:F3}/{loaded[2][^1]:F3} s");
        }
        return new SmallFitSeconds(
            Statistics.Median(idle[0]), Statistics.Median(idle[1]), Statistics.Median(idle[2]),
            Statistics.Median(loaded[0]), Statistics.Median(loaded[1]), Statistics.Median(loaded[2]));
    }

    /// <summary>
    /// Starts the competitor, a process spinning one thread, and returns once it spins. It ends when
    /// killed or when its standard input closes (this program ended, however it ended).
    /// </summary>
    private static Process StartBusy()
    {
        var start = ChildProcess.StartInfo(BusyVerb);
        start.RedirectStandardInput = true;
        var busy = Process.Start(start)!;
        if (busy.StandardOutput.ReadLine() != BusyReady)
            throw new InvalidOperationException($"The busy child process did not start: {busy.StandardError.ReadToEnd()}");
        return busy;
    }

    private const string BusyReady = "spinning";

    /// <summary>Runs <paramref name="work"/> while the competitor spins, and stops the competitor after it.</summary>
    public static void WithCompetitor(Action work)
    {
        using var busy = StartBusy();
        try
        {
            work();
        }
        finally
        {
            busy.Kill(entireProcessTree: true);
            busy.WaitForExit();
        }
    }

    private static double RunChild(int threads) => ChildProcess.Measure(FitVerb, threads.ToString(CultureInfo.InvariantCulture));

    /// <summary>The competitor: one thread spinning until standard input closes.</summary>
    public static int Busy()
    {
        new Thread(() =>
        {
            double x = 0;
            while (true)
                x = Math.Sqrt(x + 1);
        }) { IsBackground = true }.Start();
        Console.WriteLine(BusyReady);
        Console.Out.Flush();
        while (Console.In.Read() >= 0) { }
        return 0;
    }

    /// <summary>The child's side: one warm-up fit, then the median of a few, in seconds; 0 threads is the library's default.</summary>
    public static int Fit(int threads)
    {
        var mlContext = new MLContext(seed: 1);
        var random = new Random(1);
        var rows = Enumerable.Range(0, 40).Select(i => new Row
        {
            Label = (uint)(i % 4) + 1,
            Features = Enumerable.Range(0, 600).Select(j => (float)(Math.Sin(j / 6 * 0.05 * (i % 4 + 1)) + random.NextDouble() * 0.3)).ToArray(),
        }).ToList();
        var definition = SchemaDefinition.Create(typeof(Row));
        definition[nameof(Row.Label)].ColumnType = new KeyDataViewType(typeof(uint), 4);
        var data = mlContext.Data.Cache(mlContext.Data.LoadFromEnumerable(rows, definition));
        var options = new LstmClassifierOptions
        {
            InputSize = 6, HiddenSize = 64, BatchSize = 16, Epochs = 20, Seed = 1,
            NumberOfThreads = threads > 0 ? threads : null,
        };
        var seconds = new List<double>();
        for (int i = 0; i <= FitsPerChild; i++)
        {
            var clock = Stopwatch.StartNew();
            using (mlContext.Transforms.LstmClassifier(options).Fit(data)) { }
            if (i > 0)
                seconds.Add(clock.Elapsed.TotalSeconds);
        }
        Console.WriteLine(Statistics.Median(seconds).ToString("R", CultureInfo.InvariantCulture));
        return 0;
    }

    public sealed record SmallFitSeconds(
        double Default, double OneThread, double AllCores, double LoadedDefault, double LoadedOneThread, double LoadedAllCores);

    private sealed class Row
    {
        public uint Label { get; set; }

        [VectorType(600)]
        public float[] Features { get; set; } = [];
    }
}
