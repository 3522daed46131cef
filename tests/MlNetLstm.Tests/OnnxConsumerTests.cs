using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MlNetLstm.Tests;

/// <summary>
/// An exported model served where libtorch cannot go: a fresh console app that references ONNX Runtime
/// alone scores it like the library, and ships no TorchSharp or libtorch file.
/// </summary>
[NonParallelizable]
public class OnnxConsumerTests : TempFolderTest
{
    [Test]
    public void AnAppWithOnlyOnnxRuntimeScoresAnExportedModelLikeTheLibrary()
    {
        var mlContext = new MLContext();
        var classifier = ((IEnumerable<ITransformer>)TrainedModel.Model).OfType<LstmClassifierTransformer>().Single();
        var rows = SyntheticSequences.Make(50, 61).Select(r => new OnnxExportTests.FixedFeatures { Features = r.Features }).ToList();
        var data = mlContext.Data.LoadFromEnumerable(rows);
        var app = Path.Combine(Folder, "OnnxConsumer");
        Directory.CreateDirectory(app);
        using (var model = File.Create(Path.Combine(app, "model.onnx")))
            mlContext.Model.ConvertToOnnx(classifier, data, model);
        File.WriteAllLines(Path.Combine(app, "rows.csv"),
            rows.Select(r => string.Join(",", r.Features.Select(v => v.ToString("R", CultureInfo.InvariantCulture)))));

        DotnetCli.WriteConsoleApp(app, "OnnxConsumer", ConsumerProgram,
            """<PackageReference Include="Microsoft.ML.OnnxRuntime" Version="1.31.1" />""");

        DotnetCli.Run(app, "build", "-c", "Release", "-o", Path.Combine(app, "out"));
        var output = DotnetCli.Run(app, "out/OnnxConsumer.dll".Replace('/', Path.DirectorySeparatorChar), Path.Combine(app, "model.onnx"), Path.Combine(app, "rows.csv"));

        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var scored = classifier.Transform(data);
        var expectedKeys = scored.GetColumn<uint>("PredictedLabel").ToList();
        var expectedScores = scored.GetColumn<float[]>("Score").ToList();
        Assert.That(lines, Has.Length.EqualTo(rows.Count));
        for (int i = 0; i < rows.Count; i++)
        {
            var parts = lines[i].Split(' ');
            Assert.That(uint.Parse(parts[0], CultureInfo.InvariantCulture), Is.EqualTo(expectedKeys[i]), $"row {i}");
            var scores = parts[1].Split(',').Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray();
            Assert.That(scores, Is.EqualTo(expectedScores[i]).Within(1e-5), $"row {i}");
        }

        var shipped = Directory.GetFiles(Path.Combine(app, "out"), "*", SearchOption.AllDirectories).Select(Path.GetFileName).ToList();
        Assert.That(shipped, Has.Some.Contains("onnxruntime"));
        Assert.That(shipped.Where(f => f!.Contains("torch", StringComparison.OrdinalIgnoreCase)), Is.Empty, "no TorchSharp or libtorch file");
    }

    // Reads the model and rows of floats; prints each row's key and scores.
    private const string ConsumerProgram = """
        using System.Globalization;
        using Microsoft.ML.OnnxRuntime;
        using Microsoft.ML.OnnxRuntime.Tensors;

        using var session = new InferenceSession(args[0]);
        var rows = File.ReadAllLines(args[1]).Select(l => l.Split(',').Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray()).ToList();
        var input = new DenseTensor<float>(rows.SelectMany(r => r).ToArray(), [rows.Count, rows[0].Length]);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("Features", input)]);
        var scores = results.Single(r => r.Name == "Score.output").AsTensor<float>();
        var keys = results.Single(r => r.Name == "PredictedLabel.output").AsTensor<uint>();
        int classes = scores.Dimensions[1];
        for (int i = 0; i < rows.Count; i++)
        {
            var row = Enumerable.Range(0, classes).Select(c => scores[i, c].ToString("R", CultureInfo.InvariantCulture));
            Console.WriteLine($"{keys[i, 0]} {string.Join(",", row)}");
        }
        """;
}
