using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace MlNetLstm.Tests;

/// <summary>Runs the examples/MnistLstm app in-process, on the shipped digits, as its README command would.</summary>
public class MnistExampleTests : TempFolderTest
{
    // A short run: 63 batches of 128 with a higher learning rate and 64 units take a few seconds and
    // reach about 0.8 on the test digits; broken training stays near chance (0.1).
    private static readonly string[] QuickRun =
        ["--training-iters", "8000", "--learning-rate", "0.01", "--hidden", "64", "--display-step", "5"];
    private const double AccuracyBar = 0.6;

    private static readonly string[] JsonKeys =
    [
        "micro_accuracy", "macro_accuracy", "log_loss", "train_count", "test_count", "training_samples",
        "train_seconds", "samples_per_second", "reloaded_micro_accuracy", "model_path",
        "epochs_run", "best_epoch", "validation_loss",
    ];

    // Training control: 3 epochs at most with validation, small enough to take a few seconds.
    private static readonly string[] EpochsRun = ["--epochs", "3", "--early-stopping", "1", "--hidden", "32"];


    [Test]
    public void OnnxExportScoresTheTestDigitsLikeTheLibrary()
    {
        var onnx = Path.Combine(Folder, "mnist.onnx");
        var (exitCode, _) = Run([.. QuickRun, "--onnx", onnx, .. Outputs("onnx")]);
        Assert.That(exitCode, Is.EqualTo(0));
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, "onnx.json")));
        var metrics = json.RootElement;
        Assert.That(metrics.GetProperty("onnx_keys_differing").GetInt32(), Is.Zero);
        Assert.That(metrics.GetProperty("onnx_max_score_difference").GetDouble(), Is.LessThanOrEqualTo(1e-5));
    }

    [Test]
    public void TrainsEvaluatesSavesReloadsAndPlots()
    {
        var (exitCode, _) = Run([.. QuickRun, .. Outputs("first")]);
        Assert.That(exitCode, Is.EqualTo(0));

        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, "first.json")));
        var metrics = json.RootElement;
        Assert.That(JsonKeys.Where(key => !metrics.TryGetProperty(key, out _)), Is.Empty, "missing JSON keys");
        double accuracy = metrics.GetProperty("micro_accuracy").GetDouble();
        Assert.Multiple(() =>
        {
            Assert.That(accuracy, Is.GreaterThan(AccuracyBar).And.LessThanOrEqualTo(1));
            Assert.That(metrics.GetProperty("macro_accuracy").GetDouble(), Is.GreaterThan(AccuracyBar - 0.1).And.LessThanOrEqualTo(1));
            Assert.That(metrics.GetProperty("log_loss").GetDouble(), Is.GreaterThan(0).And.LessThan(2));
            Assert.That(metrics.GetProperty("reloaded_micro_accuracy").GetDouble(), Is.EqualTo(accuracy));
            Assert.That(metrics.GetProperty("train_count").GetInt64(), Is.EqualTo(8_000));
            Assert.That(metrics.GetProperty("test_count").GetInt64(), Is.EqualTo(2_000));
            Assert.That(metrics.GetProperty("training_samples").GetInt64(), Is.EqualTo(63 * 128), "8,000 rounded up to whole batches");
            Assert.That(metrics.GetProperty("train_seconds").GetDouble(), Is.GreaterThan(0));
            Assert.That(metrics.GetProperty("samples_per_second").GetDouble(), Is.GreaterThan(0));
            Assert.That(metrics.GetProperty("model_path").GetString(), Is.EqualTo(Path.Combine(Folder, "first.zip")));
            // The reference run has no validation: the kept weights are the last ones.
            Assert.That(metrics.GetProperty("validation_loss").ValueKind, Is.EqualTo(JsonValueKind.Null));
            Assert.That(metrics.GetProperty("best_epoch").GetDouble(), Is.EqualTo(metrics.GetProperty("epochs_run").GetDouble()));
            Assert.That(metrics.GetProperty("epochs_run").GetDouble(), Is.EqualTo(63 * 128 / 8_000.0).Within(1e-9));
        });
        Assert.That(new FileInfo(Path.Combine(Folder, "first.zip")).Length, Is.GreaterThan(0));
        var (width, height) = Png.Size(Path.Combine(Folder, "first.png"));
        Assert.That(width, Is.GreaterThan(0));
        Assert.That(height, Is.GreaterThan(0));

        // A second run in the same process with the same seed repeats the first. Log-loss only to
        // rounding: ML.NET's Evaluate was seen to differ in its last bits between calls on bitwise-equal
        // scores.
        Assert.That(Run([.. QuickRun, .. Outputs("second")]).ExitCode, Is.EqualTo(0));
        using var again = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, "second.json")));
        var repeat = again.RootElement;
        Assert.That(repeat.GetProperty("micro_accuracy").GetDouble(), Is.EqualTo(accuracy));
        Assert.That(repeat.GetProperty("macro_accuracy").GetDouble(), Is.EqualTo(metrics.GetProperty("macro_accuracy").GetDouble()));
        Assert.That(repeat.GetProperty("log_loss").GetDouble(), Is.EqualTo(metrics.GetProperty("log_loss").GetDouble()).Within(1e-9));
    }

    [Test]
    public void EpochsAndEarlyStoppingKeepTheBestValidatedEpoch()
    {
        var (exitCode, _) = Run([.. EpochsRun, .. Outputs("epochs")]);
        Assert.That(exitCode, Is.EqualTo(0));

        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, "epochs.json")));
        var metrics = json.RootElement;
        Assert.That(JsonKeys.Where(key => !metrics.TryGetProperty(key, out _)), Is.Empty, "missing JSON keys");
        double epochsRun = metrics.GetProperty("epochs_run").GetDouble(), bestEpoch = metrics.GetProperty("best_epoch").GetDouble();
        // 10 % of the 8,000 images are held out; every batch is full, so the last epoch may end a few rows into a batch.
        double lastBatchOverrun = 128 / 7_200.0;
        Assert.Multiple(() =>
        {
            Assert.That(epochsRun, Is.GreaterThan(0).And.LessThanOrEqualTo(3 + lastBatchOverrun));
            Assert.That(bestEpoch, Is.GreaterThan(0).And.LessThanOrEqualTo(epochsRun));
            Assert.That(metrics.GetProperty("validation_loss").GetDouble(), Is.GreaterThan(0).And.LessThan(2.5));
            Assert.That(metrics.GetProperty("micro_accuracy").GetDouble(), Is.GreaterThan(0.3), "three epochs leave chance (0.1) far behind");
            Assert.That(metrics.GetProperty("reloaded_micro_accuracy").GetDouble(), Is.EqualTo(metrics.GetProperty("micro_accuracy").GetDouble()));
            Assert.That(metrics.GetProperty("train_count").GetInt64(), Is.EqualTo(8_000));
        });
    }

    [TestCase("--epochs", "0")]
    [TestCase("--epochs", "2.5")]
    [TestCase("--early-stopping", "0")]
    [TestCase("--early-stopping", "-3")]
    [TestCase("--validation-fraction", "0")]
    [TestCase("--validation-fraction", "1")]
    [TestCase("--validation-fraction", "0,1")]
    [TestCase("--validation-fraction", "NaN")]
    [TestCase("--epochs", "3", "--training-iters", "1000")]
    public void BadTrainingControlValuesExitWith2(params string[] args)
    {
        var (exitCode, error) = Run([.. args, .. Outputs("bad")]);
        Assert.That(exitCode, Is.EqualTo(2), error);
        Assert.That(error.TrimEnd().Split('\n'), Has.Length.EqualTo(1), error);
        Assert.That(error, Does.StartWith("error: "));
        Assert.That(Path.Combine(Folder, "bad.zip"), Does.Not.Exist);
    }

    [Test]
    public void HelpListsEveryOption()
    {
        var output = new StringWriter();
        var saved = Console.Out;
        Console.SetOut(output);
        try
        {
            Assert.That(Run(["--help"]).ExitCode, Is.EqualTo(0));
        }
        finally
        {
            Console.SetOut(saved);
        }
        foreach (var option in new[] { "--data", "--training-iters", "--epochs", "--early-stopping", "--validation-fraction",
                     "--batch-size", "--learning-rate", "--hidden", "--display-step", "--seed", "--model", "--plot", "--metrics-json", "--onnx" })
            Assert.That(output.ToString(), Does.Contain(option));
    }

    [TestCase("--batch-size", "0")]
    [TestCase("--training-iters", "-5")]
    [TestCase("--learning-rate", "0")]
    [TestCase("--hidden", "many")]
    [TestCase("--frobnicate")]
    [TestCase("--data", "/nonexistent/mnist")]
    public void BadArgumentsGiveOneErrorLineAndAFailingExitCode(params string[] args)
    {
        var (exitCode, error) = Run([.. args, .. Outputs("bad")]);
        Assert.That(exitCode, Is.Not.EqualTo(0));
        Assert.That(error.TrimEnd().Split('\n'), Has.Length.EqualTo(1), error);
        Assert.That(error, Does.StartWith("error: ").And.Not.Contain("   at "));
        Assert.That(Path.Combine(Folder, "bad.zip"), Does.Not.Exist);
    }

    [Test]
    public void DamagedDataFilesGiveOneErrorLine()
    {
        var data = Directory.CreateDirectory(Path.Combine(Folder, "data")).FullName;
        foreach (var name in new[] { "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte" })
            File.WriteAllText(Path.Combine(data, name), "not MNIST");
        var (exitCode, error) = Run(["--data", data, .. Outputs("bad")]);
        Assert.That(exitCode, Is.Not.EqualTo(0));
        Assert.That(error, Does.StartWith("error: ").And.Contain("not a valid MNIST IDX file"));
        Assert.That(error.TrimEnd().Split('\n'), Has.Length.EqualTo(1), error);
    }

    /// <summary>Output paths in the test's Folder, so nothing lands in the repository.</summary>
    private string[] Outputs(string name) =>
    [
        "--model", Path.Combine(Folder, name + ".zip"),
        "--plot", Path.Combine(Folder, name + ".png"),
        "--metrics-json", Path.Combine(Folder, name + ".json"),
    ];

    /// <summary>Calls the app's Main; returns its exit code and what it wrote to stderr.</summary>
    private static (int ExitCode, string Error) Run(string[] args)
    {
        var error = new StringWriter();
        var saved = Console.Error;
        Console.SetError(error);
        try
        {
            return (global::MnistLstm.Program.Main(args), error.ToString());
        }
        finally
        {
            Console.SetError(saved);
            TestContext.Out.Write(error.ToString());
        }
    }
}
