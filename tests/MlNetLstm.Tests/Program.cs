using Microsoft.ML;
using Microsoft.ML.Data;

namespace MlNetLstm.Tests;

/// <summary>
/// Lets a test run this assembly as a separate process ("dotnet MlNetLstm.Tests.dll score MODEL"), to
/// prove a saved model loads in a fresh process with a plain MLContext and no registration call.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args is ["write-fixture", var folder])
        {
            ModelFixtures.Write(folder);
            return 0;
        }
        if (args is ["fit-peak", var rows, var length, var counted])
        {
            Console.WriteLine(FitPeak(int.Parse(rows), int.Parse(length), counted == "counted"));
            return 0;
        }
        if (args is ["fit-hash"])
        {
            Console.WriteLine(FitHash());
            return 0;
        }
        if (args is not ["score", var modelPath, var rowCount, var seed])
        {
            Console.Error.WriteLine("usage: score MODEL ROWS SEED | fit-hash | fit-peak ROWS LENGTH counted|streamed | write-fixture FOLDER");
            return 2;
        }
        var mlContext = new MLContext();
        var model = mlContext.Model.Load(modelPath, out _);
        var data = SyntheticSequences.Load(mlContext, int.Parse(rowCount), int.Parse(seed));
        foreach (var score in model.Transform(data).GetColumn<float[]>("Score"))
            Console.WriteLine(ScoreText.Format(score));
        return 0;
    }

    /// <summary>
    /// How far Fit raises this process's peak resident memory above what it held before, for
    /// <paramref name="rows"/> generated rows of <paramref name="length"/> floats: "peak-growth data-bytes".
    /// </summary>
    public static string FitPeak(int rows, int length, bool counted)
    {
        var mlContext = new MLContext(seed: 1);
        var options = new LstmClassifierOptions { InputSize = 28, HiddenSize = 16, TrainingSamples = 256, Seed = 1 };
        // Warm up: libtorch, the JIT and the allocators settle before the baseline.
        mlContext.Transforms.LstmClassifier(options).Fit(new GeneratedData(200, length, counted)).Dispose();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        long baseline = Benchmarks.Statistics.ResidentBytes();
        File.WriteAllText("/proc/self/clear_refs", "5"); // resets the peak (VmHWM) to the current size
        using var model = mlContext.Transforms.LstmClassifier(options).Fit(new GeneratedData(rows, length, counted));
        long peak = PeakResidentBytes();
        return $"{peak - baseline} {(long)rows * length * sizeof(float)}";
    }

    private static long PeakResidentBytes() =>
        long.Parse(File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmHWM:")).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;

    /// <summary>Trains a small two-layer model with dropout and a fixed seed, and hashes its scores' exact bits.</summary>
    public static string FitHash()
    {
        var mlContext = new MLContext(seed: 3);
        var options = SyntheticSequences.QuickOptions(seed: 17);
        options.TrainingSamples = 640;
        options.Dropout = 0.2;
        options.NumberOfLayers = 2;
        var model = mlContext.Transforms.Conversion.MapValueToKey("Label")
            .Append(mlContext.Transforms.LstmClassifier(options))
            .Fit(SyntheticSequences.Load(mlContext, 300, 3));
        var data = SyntheticSequences.Load(mlContext, 50, 4);
        var scores = string.Join(";", model.Transform(data).GetColumn<float[]>("Score").Select(ScoreText.Format));
        return Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(scores)));
    }
}

public static class ScoreText
{
    /// <summary>Exact text of a score vector (float bits in hex), for bitwise comparison across processes.</summary>
    public static string Format(float[] score) =>
        string.Join(",", score.Select(v => BitConverter.SingleToInt32Bits(v).ToString("x8")));
}
