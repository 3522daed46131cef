using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;

namespace MlNetLstm.Benchmarks;

/// <summary>
/// Runs the hand-written TorchSharp training loop in a process of its own, as a user's program would
/// run: libtorch settings are process-wide, and this one must not inherit those MlNetLstm applies.
/// </summary>
public static class RawTrainingProcess
{
    public const string Verb = "--raw-train-child";

    /// <summary>
    /// The raw loop's best libtorch setting: huge pages for its large training buffers (~35 % faster here).
    /// The library set it too in 0.1.0; 0.2.0 keeps those buffers small instead and sets nothing, so
    /// this contender is the raw loop at its best rather than with the library's settings.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string> HugePages = new Dictionary<string, string> { ["THP_MEM_ALLOC_ENABLE"] = "1" };

    /// <summary>Starts this program in raw mode and returns the samples per second it measured.</summary>
    public static double SamplesPerSecond(long samples, string dataFolder, IReadOnlyDictionary<string, string>? environment = null) =>
        ChildProcess.Measure(environment, Verb, samples.ToString(CultureInfo.InvariantCulture), dataFolder);

    /// <summary>The child's side: load the data into tensors, warm up, train, print samples/s.</summary>
    public static int Run(long samples, string dataFolder)
    {
        var mlContext = new MLContext(seed: 1);
        using var data = BenchmarkData.Load(mlContext, dataFolder);
        RawLstmClassifier.Train(data.TrainFeatures, data.TrainLabels, 256);
        double seconds = RawLstmClassifier.Train(data.TrainFeatures, data.TrainLabels, samples);
        Console.WriteLine((samples / seconds).ToString("R", CultureInfo.InvariantCulture));
        return 0;
    }
}

/// <summary>This benchmark program run again in a process of its own, for measurements libtorch's process-wide settings would skew.</summary>
public static class ChildProcess
{
    public static ProcessStartInfo StartInfo(params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        // Children measure libtorch as a plain program gets it: no libtorch setting inherited from a parent.
        start.Environment.Remove("THP_MEM_ALLOC_ENABLE");
        start.ArgumentList.Add(typeof(ChildProcess).Assembly.Location);
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        return start;
    }

    /// <summary>Runs the child to its end and returns the one number it prints.</summary>
    public static double Measure(params string[] arguments) => Measure(null, arguments);

    /// <summary>Runs the child, with <paramref name="environment"/> added to its environment, and returns the one number it prints.</summary>
    public static double Measure(IReadOnlyDictionary<string, string>? environment, params string[] arguments) =>
        double.Parse(Output(environment, arguments), CultureInfo.InvariantCulture);

    /// <summary>Runs the child, with <paramref name="environment"/> added to its environment, and returns what it printed, trimmed.</summary>
    /// <exception cref="InvalidOperationException">The child failed; the message holds what it wrote to stderr.</exception>
    public static string Output(IReadOnlyDictionary<string, string>? environment, params string[] arguments)
    {
        var start = StartInfo(arguments);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
            start.Environment[name] = value;
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"The benchmark's child process ({arguments[0]}) failed: {error.Result}");
        return output.Result.Trim();
    }
}
