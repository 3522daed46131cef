using System.Globalization;
using System.Text.Json;
using Microsoft.ML;

namespace MlNetLstm.Benchmarks;

/// <summary>
/// Measures, on the shipped MNIST split and in one run, what wrapping the LSTM in ML.NET costs
/// against hand-written TorchSharp, interleaving the contenders and reporting medians.
/// </summary>
public static class Program
{
    private const string Usage =
        "usage: MlNetLstm.Benchmarks [--json PATH] [--quick] [--repeats N] [--train-samples N] [--data DIR] [--no-baselines]";

    public static int Main(string[] args)
    {
        if (args is [RawTrainingProcess.Verb, var samples, var folder])
            return RawTrainingProcess.Run(long.Parse(samples, CultureInfo.InvariantCulture), folder);
        if (args is [SmallFitUnderLoad.FitVerb, var threads])
            return SmallFitUnderLoad.Fit(int.Parse(threads, CultureInfo.InvariantCulture));
        if (args is [SmallFitUnderLoad.BusyVerb])
            return SmallFitUnderLoad.Busy();
        if (args is [OnnxRuntimeScoring.Verb, var onnxModel, var onnxData, var passes, var singleRows])
            return OnnxRuntimeScoring.Run(onnxModel, onnxData, int.Parse(passes, CultureInfo.InvariantCulture), int.Parse(singleRows, CultureInfo.InvariantCulture));
        BenchmarkSettings settings;
        try
        {
            settings = BenchmarkSettings.Parse(args);
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            Console.Error.WriteLine(Usage);
            return 2;
        }
        if (settings.ShowHelp)
        {
            Console.WriteLine(Usage);
            return 0;
        }

        var results = new BenchmarkSuite(settings, Console.Out).Run();
        results.PrintTable(Console.Out);
        if (settings.JsonPath is string path)
        {
            File.WriteAllText(path, JsonSerializer.Serialize(results.ToJson(), new JsonSerializerOptions { WriteIndented = true }));
            Console.WriteLine($"Wrote {Path.GetFullPath(path)}");
        }
        return 0;
    }
}

public sealed record BenchmarkSettings(
    string? JsonPath, bool Quick, int Repeats, long TrainSamples, string DataFolder, bool ShowHelp, bool Baselines = true)
{
    public static BenchmarkSettings Parse(string[] args)
    {
        string? json = null;
        bool quick = false, help = false, baselines = true;
        int? repeats = null;
        long? samples = null;
        string data = DefaultDataFolder();
        for (int i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--json": json = Value(); break;
                case "--quick": quick = true; break;
                case "--repeats": repeats = Positive(args[i], Value()); break;
                case "--train-samples": samples = Positive(args[i], Value()); break;
                case "--data": data = Value(); break;
                case "--no-baselines": baselines = false; break;
                case "--help" or "-h": help = true; break;
                default: throw new ArgumentException($"unknown option '{args[i]}'");
            }
        }
        return new BenchmarkSettings(json, quick, repeats ?? (quick ? 1 : 3), samples ?? (quick ? 1_280 : 25_600), data, help, baselines);
    }

    private static int Positive(string option, string text) =>
        int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) && n > 0
            ? n : throw new ArgumentException($"{option} must be a positive whole number, not '{text}'");

    private static string DefaultDataFolder()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "assets", "inputs", "mnist");
            if (Directory.Exists(candidate))
                return candidate;
        }
        return Path.Combine("assets", "inputs", "mnist");
    }
}
