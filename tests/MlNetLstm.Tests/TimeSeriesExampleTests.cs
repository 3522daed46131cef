using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using System.Text.Json;

namespace MlNetLstm.Tests;

/// <summary>Runs the examples/TimeSeries app in-process on the small shipped files, as its README command would.</summary>
public class TimeSeriesExampleTests : TempFolderTest
{
    // The app's own copies of the shipped problems, copied next to it (and so next to this assembly) by its project file.
    private static string ShippedFile(string name) => Path.Combine(AppContext.BaseDirectory, "ucr-uea", name);
    private static readonly string UnitTestTrain = ShippedFile("UnitTest_TRAIN.ts");
    private static readonly string UnitTestTest = ShippedFile("UnitTest_TEST.ts");

    private static readonly string[] JsonKeys =
    [
        "micro_accuracy", "macro_accuracy", "log_loss", "train_count", "test_count", "classes", "channels",
        "min_length", "max_length", "epochs_run", "train_seconds", "reloaded_micro_accuracy", "model_path",
        "best_epoch", "validation_loss", "values_per_step",
    ];

    [Test]
    public void OnnxExportScoresTheTestSetLikeTheLibrary()
    {
        var onnx = Path.Combine(Folder, "model.onnx");
        var (exitCode, _, output) = Run(["--train", UnitTestTrain, "--test", UnitTestTest, "--epochs", "5", "--onnx", onnx, .. Outputs("onnx")]);
        Assert.That(exitCode, Is.EqualTo(0));
        var metrics = Json("onnx");
        Assert.That(metrics.GetProperty("onnx_path").GetString(), Is.EqualTo(onnx));
        Assert.That(metrics.GetProperty("onnx_keys_differing").GetInt32(), Is.Zero);
        Assert.That(metrics.GetProperty("onnx_max_score_difference").GetDouble(), Is.LessThanOrEqualTo(1e-5));
        Assert.That(new FileInfo(onnx).Length, Is.GreaterThan(0));
        Assert.That(output, Does.Contain("ONNX Runtime on the 22 test rows"));
    }

    [Test]
    public void ValuesPerStepLongerThanTheShortestSeriesIsABadArgument()
    {
        var (exitCode, error, _) = Run(["--train", UnitTestTrain, "--test", UnitTestTest, "--values-per-step", "25", .. Outputs("long")]);
        Assert.That(exitCode, Is.EqualTo(2));
        Assert.That(error, Does.Contain("--values-per-step 25").And.Contain("24 time steps"));
    }

    [Test]
    public void OnnxExportOfAVariableLengthMultichannelProblemAgrees()
    {
        // JapaneseVowels: 12 channels, 7-29 steps: the NaN-padded ONNX input against the library's packed rows.
        var onnx = Path.Combine(Folder, "vowels.onnx");
        var (exitCode, _, _) = Run(["--epochs", "3", "--onnx", onnx, .. Outputs("vowels")]);
        Assert.That(exitCode, Is.EqualTo(0));
        var metrics = Json("vowels");
        Assert.That(metrics.GetProperty("onnx_keys_differing").GetInt32(), Is.Zero);
        Assert.That(metrics.GetProperty("onnx_max_score_difference").GetDouble(), Is.LessThanOrEqualTo(1e-5));
    }

    [Test]
    public void TrainsEvaluatesSavesReloadsAndPlotsAProblemGivenAsFiles()
    {
        var (exitCode, _, output) = Run(["--train", UnitTestTrain, "--test", UnitTestTest, "--epochs", "30", .. Outputs("unit")]);
        Assert.That(exitCode, Is.EqualTo(0));

        var metrics = Json("unit");
        Assert.That(JsonKeys.Where(key => !metrics.TryGetProperty(key, out _)), Is.Empty, "missing JSON keys");
        double accuracy = metrics.GetProperty("micro_accuracy").GetDouble();
        double epochsRun = metrics.GetProperty("epochs_run").GetDouble();
        Assert.Multiple(() =>
        {
            Assert.That(accuracy, Is.InRange(0.0, 1.0));
            Assert.That(metrics.GetProperty("reloaded_micro_accuracy").GetDouble(), Is.EqualTo(accuracy));
            Assert.That(metrics.GetProperty("macro_accuracy").GetDouble(), Is.InRange(0.0, 1.0));
            Assert.That(metrics.GetProperty("log_loss").GetDouble(), Is.GreaterThan(0));
            Assert.That(metrics.GetProperty("train_count").GetInt64(), Is.EqualTo(20));
            Assert.That(metrics.GetProperty("test_count").GetInt64(), Is.EqualTo(22));
            Assert.That(metrics.GetProperty("classes").EnumerateArray().Select(c => c.GetString()), Is.EqualTo(new[] { "1", "2" }));
            Assert.That(metrics.GetProperty("channels").GetInt32(), Is.EqualTo(1));
            Assert.That(metrics.GetProperty("min_length").GetInt32(), Is.EqualTo(24));
            Assert.That(metrics.GetProperty("max_length").GetInt32(), Is.EqualTo(24));
            Assert.That(metrics.GetProperty("values_per_step").GetInt32(), Is.EqualTo(1), "24 steps need no folding");
            // 20 rows are too few to hold any out: all 30 epochs run and the last is kept. Every batch is
            // full, so the last epoch may run a little past 30.
            Assert.That(metrics.GetProperty("validation_loss").ValueKind, Is.EqualTo(JsonValueKind.Null));
            Assert.That(epochsRun, Is.GreaterThanOrEqualTo(30).And.LessThan(31));
            Assert.That(metrics.GetProperty("best_epoch").GetDouble(), Is.EqualTo(epochsRun));
            Assert.That(metrics.GetProperty("train_seconds").GetDouble(), Is.GreaterThan(0));
            Assert.That(metrics.GetProperty("model_path").GetString(), Is.EqualTo(Path.Combine(Folder, "unit.zip")));
        });
        Assert.That(new FileInfo(Path.Combine(Folder, "unit.zip")).Length, Is.GreaterThan(0));
        var (width, height) = Png.Size(Path.Combine(Folder, "unit.png"));
        Assert.That(width * height, Is.GreaterThan(0));
        Assert.That(output, Does.Contain("Per class").And.Contain("Confusion matrix"));

        // The same seed repeats the run exactly.
        Assert.That(Run(["--train", UnitTestTrain, "--test", UnitTestTest, "--epochs", "30", .. Outputs("again")]).ExitCode, Is.EqualTo(0));
        Assert.That(Json("again").GetProperty("micro_accuracy").GetDouble(), Is.EqualTo(accuracy));
    }

    [Test]
    public void WithoutFilesItRunsTheShippedJapaneseVowels()
    {
        var (exitCode, _, _) = Run(["--epochs", "2", .. Outputs("vowels")]);
        Assert.That(exitCode, Is.EqualTo(0));
        var metrics = Json("vowels");
        Assert.Multiple(() =>
        {
            // 270 rows: enough to hold 54 out for validation and early stopping.
            Assert.That(metrics.GetProperty("validation_loss").GetDouble(), Is.GreaterThan(0));
            Assert.That(metrics.GetProperty("best_epoch").GetDouble(), Is.GreaterThan(0).And.LessThanOrEqualTo(metrics.GetProperty("epochs_run").GetDouble()));
            Assert.That(metrics.GetProperty("epochs_run").GetDouble(), Is.LessThan(2.1));
            Assert.That(metrics.GetProperty("train_count").GetInt64(), Is.EqualTo(270));
            Assert.That(metrics.GetProperty("test_count").GetInt64(), Is.EqualTo(370));
            Assert.That(metrics.GetProperty("channels").GetInt32(), Is.EqualTo(12));
            Assert.That(metrics.GetProperty("classes").GetArrayLength(), Is.EqualTo(9));
            Assert.That(metrics.GetProperty("min_length").GetInt32(), Is.EqualTo(7));
            Assert.That(metrics.GetProperty("max_length").GetInt32(), Is.EqualTo(29));
            Assert.That(metrics.GetProperty("reloaded_micro_accuracy").GetDouble(), Is.EqualTo(metrics.GetProperty("micro_accuracy").GetDouble()));
        });
    }

    [Test]
    public void LongSeriesAreFoldedAndTheFoldedModelReloads()
    {
        // ArrowHead: 251 values, a prime, so folding must drop the first few values of every series.
        var (exitCode, _, output) = Run(["--train", ShippedFile("ArrowHead_TRAIN.ts"), "--test", ShippedFile("ArrowHead_TEST.ts"),
            "--epochs", "2", .. Outputs("arrow")]);
        Assert.That(exitCode, Is.EqualTo(0));
        var metrics = Json("arrow");
        int valuesPerStep = metrics.GetProperty("values_per_step").GetInt32();
        Assert.That(valuesPerStep, Is.GreaterThan(1));
        Assert.That(251 % valuesPerStep, Is.Not.Zero, "this test needs a fold that does not divide 251");
        Assert.That(output, Does.Contain($"first L mod {valuesPerStep} time steps"));
        Assert.That(metrics.GetProperty("reloaded_micro_accuracy").GetDouble(), Is.EqualTo(metrics.GetProperty("micro_accuracy").GetDouble()));
    }

    [Test]
    public void EarlyStoppingCanBeForcedOnSmallData()
    {
        var (exitCode, _, _) = Run(["--train", Gzipped(UnitTestTrain), "--test", Gzipped(UnitTestTest),
            "--epochs", "40", "--early-stopping", "3", .. Outputs("forced")]);
        Assert.That(exitCode, Is.EqualTo(0), "gzip-compressed files read like plain ones");
        var metrics = Json("forced");
        double epochsRun = metrics.GetProperty("epochs_run").GetDouble();
        Assert.That(metrics.GetProperty("validation_loss").GetDouble(), Is.GreaterThan(0));
        Assert.That(epochsRun, Is.GreaterThan(0).And.LessThan(41));
        Assert.That(metrics.GetProperty("best_epoch").GetDouble(), Is.GreaterThan(0).And.LessThanOrEqualTo(epochsRun));
        Assert.That(metrics.GetProperty("reloaded_micro_accuracy").GetDouble(), Is.EqualTo(metrics.GetProperty("micro_accuracy").GetDouble()));
    }

    [Test]
    public void NoEarlyStoppingTrainsOnEveryRowAndKeepsTheLastEpoch()
    {
        var (exitCode, _, _) = Run(["--epochs", "2", "--no-early-stopping", .. Outputs("all")]);
        Assert.That(exitCode, Is.EqualTo(0));
        var metrics = Json("all");
        Assert.That(metrics.GetProperty("validation_loss").ValueKind, Is.EqualTo(JsonValueKind.Null));
        Assert.That(metrics.GetProperty("best_epoch").GetDouble(), Is.EqualTo(metrics.GetProperty("epochs_run").GetDouble()));
        Assert.That(metrics.GetProperty("epochs_run").GetDouble(), Is.GreaterThanOrEqualTo(2).And.LessThan(2.1));
    }

    [Test]
    public void ADamagedFileGivesOneLineNamingTheFileAndLine()
    {
        // Line 9 of UnitTest_TRAIN.ts is its first case; break a value in it.
        var lines = File.ReadAllLines(UnitTestTrain);
        int dataLine = Array.FindIndex(lines, line => line.Trim().Equals("@data", StringComparison.OrdinalIgnoreCase)) + 2;
        var damaged = Path.Combine(Folder, "damaged_TRAIN.ts");
        lines[dataLine - 1] = "1.0,oops," + lines[dataLine - 1];
        File.WriteAllLines(damaged, lines);

        var (exitCode, error, _) = Run(["--train", damaged, "--test", UnitTestTest, .. Outputs("bad")]);
        Assert.That(exitCode, Is.EqualTo(1));
        Assert.That(error.TrimEnd().Split('\n'), Has.Length.EqualTo(1), error);
        Assert.That(error, Does.StartWith("error: ").And.Contain(damaged).And.Contain($"line {dataLine}").And.Not.Contain("   at "));
        Assert.That(Path.Combine(Folder, "bad.zip"), Does.Not.Exist);
    }

    [Test]
    public void AMissingFileGivesOneErrorLine()
    {
        var missing = Path.Combine(Folder, "missing_TRAIN.ts");
        var (exitCode, error, _) = Run(["--train", missing, "--test", UnitTestTest, .. Outputs("bad")]);
        Assert.That(exitCode, Is.EqualTo(1));
        Assert.That(error, Does.StartWith("error: ").And.Contain(missing));
        Assert.That(error.TrimEnd().Split('\n'), Has.Length.EqualTo(1), error);
    }

    [TestCase("--epochs", "0")]
    [TestCase("--epochs", "many")]
    [TestCase("--early-stopping", "0")]
    [TestCase("--values-per-step", "-1")]
    [TestCase("--hidden", "1.5")]
    [TestCase("--seed", "x")]
    [TestCase("--frobnicate")]
    [TestCase("--train", "a.ts")]
    [TestCase("--early-stopping", "5", "--no-early-stopping")]
    public void BadArgumentsExitWith2(params string[] args)
    {
        var (exitCode, error, _) = Run([.. args, .. Outputs("bad")]);
        Assert.That(exitCode, Is.EqualTo(2), error);
        Assert.That(error.TrimEnd().Split('\n'), Has.Length.EqualTo(1), error);
        Assert.That(error, Does.StartWith("error: "));
        Assert.That(Path.Combine(Folder, "bad.zip"), Does.Not.Exist);
    }

    [Test]
    public void HelpListsEveryOptionAndTheRules()
    {
        var (exitCode, _, output) = Run(["--help"]);
        Assert.That(exitCode, Is.EqualTo(0));
        foreach (var option in new[] { "--train", "--test", "--epochs", "--early-stopping", "--no-early-stopping",
                     "--values-per-step", "--hidden", "--seed", "--model", "--plot", "--metrics-json", "--onnx" })
            Assert.That(output, Does.Contain(option));
        Assert.That(output, Does.Contain("L mod"), "the folding rule is explained");
    }

    /// <summary>Output paths in the test's Folder, so nothing lands in the repository.</summary>
    private string[] Outputs(string name) =>
    [
        "--model", Path.Combine(Folder, name + ".zip"),
        "--plot", Path.Combine(Folder, name + ".png"),
        "--metrics-json", Path.Combine(Folder, name + ".json"),
    ];

    private JsonElement Json(string name)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, name + ".json")));
        return document.RootElement.Clone();
    }

    /// <summary>A gzip-compressed copy of <paramref name="path"/> in the test's Folder.</summary>
    private string Gzipped(string path)
    {
        var target = Path.Combine(Folder, Path.GetFileName(path) + ".gz");
        using var output = new GZipStream(File.Create(target), CompressionLevel.Fastest);
        using var input = File.OpenRead(path);
        input.CopyTo(output);
        return target;
    }

    /// <summary>Calls the app's Main; returns its exit code and what it wrote to stderr and stdout.</summary>
    private static (int ExitCode, string Error, string Output) Run(string[] args)
    {
        var error = new StringWriter();
        var output = new StringWriter();
        var (savedError, savedOutput) = (Console.Error, Console.Out);
        Console.SetError(error);
        Console.SetOut(output);
        try
        {
            return (global::TimeSeries.Program.Main(args), error.ToString(), output.ToString());
        }
        finally
        {
            Console.SetError(savedError);
            Console.SetOut(savedOutput);
            TestContext.Out.Write(output.ToString());
            TestContext.Out.Write(error.ToString());
        }
    }
}
