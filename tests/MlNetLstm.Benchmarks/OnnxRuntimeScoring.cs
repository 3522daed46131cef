using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace MlNetLstm.Benchmarks;

/// <summary>
/// The benchmark's model exported to ONNX and scored by ONNX Runtime on the same test rows — in a process
/// of its own: two multi-threaded runtimes in one process slow each other down.
/// </summary>
public static class OnnxRuntimeScoring
{
    public const string Verb = "--onnx-child";
    private const int BatchRows = 1024;

    public sealed record Figures(double SamplesPerSecond, double SingleRowP50Ms, double SingleRowP99Ms);

    /// <summary>Exports the model and measures it in a child process.</summary>
    public static Figures Measure(MLContext mlContext, LstmClassifierTransformer model, IEnumerable<DigitRow> test, string dataFolder, int passes, int singleRows)
    {
        // A view of the features alone: every column of the view exported becomes a graph input.
        var featuresOnly = mlContext.Data.LoadFromEnumerable(test.Select(r => new DigitFeatures { Features = r.Features }));
        var path = Path.Combine(Path.GetTempPath(), $"mlnetlstm-bench-{Guid.NewGuid():N}.onnx");
        try
        {
            using (var file = File.Create(path))
                mlContext.Model.ConvertToOnnx(model, featuresOnly, file);
            var output = ChildProcess.Output(null, Verb, path, dataFolder,
                passes.ToString(CultureInfo.InvariantCulture), singleRows.ToString(CultureInfo.InvariantCulture));
            var numbers = output.Split(' ').Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray();
            return new Figures(numbers[0], numbers[1], numbers[2]);
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>The child's side: batched throughput (median of passes), then single-row latencies; prints "rows/s p50 p99".</summary>
    public static int Run(string modelPath, string dataFolder, int passes, int singleRows)
    {
        var mlContext = new MLContext(seed: 1);
        var files = MnistIdxFiles.InFolder(dataFolder);
        var rows = mlContext.Data.CreateEnumerable<DigitRow>(mlContext.Data.LoadFromMnistIdx(files.TestImages, files.TestLabels), reuseRowObject: false)
            .Select(r => r.Features).ToList();
        using var session = new InferenceSession(modelPath);
        int length = rows[0].Length;

        void Score(int start, int count)
        {
            var input = new DenseTensor<float>(rows.Skip(start).Take(count).SelectMany(r => r).ToArray(), [count, length]);
            using var results = session.Run([NamedOnnxValue.CreateFromTensor("Features", input)]);
            _ = results.Single(r => r.Name == "PredictedLabel.output").AsTensor<uint>()[0, 0];
        }

        var throughput = new List<double>();
        for (int pass = 0; pass <= passes; pass++)
        {
            var clock = Stopwatch.StartNew();
            for (int start = 0; start < rows.Count; start += BatchRows)
                Score(start, Math.Min(BatchRows, rows.Count - start));
            if (pass > 0)
                throughput.Add(rows.Count / clock.Elapsed.TotalSeconds);
        }
        var latencies = new List<double>();
        for (int i = 0; i < singleRows + 20; i++)
        {
            long start = Stopwatch.GetTimestamp();
            Score(i % rows.Count, 1);
            if (i >= 20)
                latencies.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }
        Console.WriteLine(string.Join(" ", new[] { Statistics.Median(throughput), Statistics.Percentile(latencies, 0.50), Statistics.Percentile(latencies, 0.99) }
            .Select(v => v.ToString("R", CultureInfo.InvariantCulture))));
        return 0;
    }
}

public sealed class DigitFeatures
{
    [Microsoft.ML.Data.VectorType(784)]
    public float[] Features { get; set; } = Array.Empty<float>();
}
