using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace MlNetLstm.Tests;

/// <summary>
/// Models exported with ML.NET's <c>ConvertToOnnx</c> score in ONNX Runtime and through ML.NET's
/// <c>ApplyOnnxModel</c> as the library does: Score within 1e-5, keys identical, NaN rows missing.
/// </summary>
public class OnnxExportTests : TempFolderTest
{
    private const double Tolerance = 1e-5;
    private static readonly MLContext Context = new(seed: 1);

    public sealed class FixedFeatures
    {
        [VectorType(SequenceRow.Length)]
        public float[] Features { get; set; } = new float[SequenceRow.Length];
    }

    public sealed class PaddedFeatures
    {
        [VectorType(PaddedRow.Length)]
        public float[] Features { get; set; } = new float[PaddedRow.Length];
    }

    /// <summary>Exports <paramref name="model"/> over a view holding only the features, so they are the graph's only input.</summary>
    private byte[] Export(ITransformer model, IDataView featuresOnly)
    {
        using var stream = new MemoryStream();
        Context.Model.ConvertToOnnx(model, featuresOnly, stream);
        File.WriteAllBytes(Path.Combine(Folder, "model.onnx"), stream.ToArray());
        return stream.ToArray();
    }

    /// <summary>Scores rows of one length with ONNX Runtime: (scores, keys).</summary>
    private static (float[][] Scores, uint[] Keys) RunOnnx(byte[] onnx, IReadOnlyList<float[]> rows)
    {
        using var session = new InferenceSession(onnx);
        int length = rows[0].Length;
        var input = new DenseTensor<float>(rows.SelectMany(r => r).ToArray(), [rows.Count, length]);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("Features", input)]);
        var scores = results.Single(r => r.Name == "Score.output").AsTensor<float>();
        var keys = results.Single(r => r.Name == "PredictedLabel.output").AsTensor<uint>();
        int classes = (int)(scores.Length / rows.Count);
        return (Enumerable.Range(0, rows.Count).Select(i => Enumerable.Range(0, classes).Select(c => scores[i, c]).ToArray()).ToArray(),
            Enumerable.Range(0, rows.Count).Select(i => keys.GetValue(i)).ToArray());
    }

    private static (List<float[]> Scores, List<uint> Keys) RunLibrary(ITransformer model, IDataView data)
    {
        var scored = model.Transform(data);
        return (scored.GetColumn<float[]>("Score").ToList(), scored.GetColumn<uint>("PredictedLabel").ToList());
    }

    private static void AssertAgree((float[][] Scores, uint[] Keys) onnx, (List<float[]> Scores, List<uint> Keys) library)
    {
        Assert.That(onnx.Keys, Is.EqualTo(library.Keys), "predicted keys");
        double worst = 0;
        for (int i = 0; i < library.Scores.Count; i++)
        {
            for (int c = 0; c < library.Scores[i].Length; c++)
            {
                float expected = library.Scores[i][c], actual = onnx.Scores[i][c];
                if (float.IsNaN(expected))
                    Assert.That(actual, Is.NaN, $"row {i}");
                else
                    worst = Math.Max(worst, Math.Abs(expected - actual));
            }
        }
        TestContext.Out.WriteLine($"max |ΔScore| {worst:E2} over {library.Scores.Count} rows");
        Assert.That(worst, Is.LessThanOrEqualTo(Tolerance));
    }

    private static LstmClassifierTransformer Classifier(ITransformer model) =>
        model as LstmClassifierTransformer ?? ((IEnumerable<ITransformer>)model).OfType<LstmClassifierTransformer>().Single();

    [Test]
    public void AFixedLengthModelScoresTheSameInOnnxRuntime()
    {
        var rows = SyntheticSequences.Make(300, 41).Select(r => r.Features).ToList();
        rows[3] = (float[])rows[3].Clone();
        rows[3][5] = float.NaN;
        rows[4] = (float[])rows[4].Clone();
        rows[4][0] = float.PositiveInfinity;
        var classifier = Classifier(TrainedModel.Model);
        var data = Context.Data.LoadFromEnumerable(rows.Select(f => new FixedFeatures { Features = f }));

        var onnx = Export(classifier, data);
        var library = RunLibrary(classifier, data);
        Assert.That(library.Keys.Take(5).Skip(3), Has.All.EqualTo(0u), "the NaN and infinite rows are missing");
        AssertAgree(RunOnnx(onnx, rows), library);
    }

    [Test]
    public void MlNetsApplyOnnxModelScoresTheSame()
    {
        var rows = SyntheticSequences.Make(200, 42).Select(r => new FixedFeatures { Features = r.Features }).ToList();
        var classifier = Classifier(TrainedModel.Model);
        var data = Context.Data.LoadFromEnumerable(rows);
        Export(classifier, data);

        var applied = Context.Transforms.ApplyOnnxModel(
                outputColumnNames: ["Score.output", "PredictedLabel.output"], inputColumnNames: ["Features"],
                modelFile: Path.Combine(Folder, "model.onnx"))
            .Fit(data).Transform(data);
        // ApplyOnnxModel names its columns after the graph's outputs without the ".output" suffix.
        var scores = applied.GetColumn<float[]>("Score").ToArray();
        var keys = applied.GetColumn<uint[]>("PredictedLabel").Select(k => k.Single()).ToArray();
        AssertAgree((scores, keys), RunLibrary(classifier, data));
    }

    [Test]
    public void AVariableLengthModelScoresNaNPaddedRowsLikeTheLibrary()
    {
        using var model = Context.Transforms.LstmClassifier(VariableSequences.Options())
            .Fit(VariableSequences.Keyer(Context).Transform(Context.Data.LoadFromEnumerable(VariableSequences.Make(300, 1))));
        var test = VariableSequences.Make(80, 2);
        var padded = VariableSequences.Padded(test, float.NaN).Select(r => new PaddedFeatures { Features = r.Features }).ToList();
        padded.Add(new PaddedFeatures { Features = Enumerable.Repeat(float.NaN, PaddedRow.Length).ToArray() });
        var data = Context.Data.LoadFromEnumerable(padded);

        var onnx = Export(model, data);
        var library = RunLibrary(model, data);
        Assert.That(library.Keys[^1], Is.Zero, "a row of padding only is missing");
        AssertAgree(RunOnnx(onnx, padded.Select(r => r.Features).ToList()), library);
    }

    [Test]
    public void RowsWithoutStepsAreMissingInOnnxToo()
    {
        using var model = Context.Transforms.LstmClassifier(VariableSequences.Options())
            .Fit(VariableSequences.Keyer(Context).Transform(Context.Data.LoadFromEnumerable(VariableSequences.Make(200, 1))));
        var rows = new[] { new VariableRow(), new VariableRow() };
        var data = Context.Data.LoadFromEnumerable(rows.Select(r => new { r.Features }));
        var onnx = Export(model, data);
        // A batch of zero-width rows, as ONNX Runtime or ApplyOnnxModel may be handed.
        var (scores, keys) = RunOnnx(onnx, rows.Select(r => r.Features).ToList());
        Assert.That(keys, Has.All.EqualTo(0u));
        Assert.That(scores.SelectMany(s => s), Has.All.NaN);

        var applied = Context.Transforms.ApplyOnnxModel(["Score.output", "PredictedLabel.output"], ["Features"], Path.Combine(Folder, "model.onnx"))
            .Fit(data).Transform(Context.Data.LoadFromEnumerable(VariableSequences.Make(5, 2).Append(new VariableRow()).Select(r => new { r.Features })));
        var appliedKeys = applied.GetColumn<uint[]>("PredictedLabel").Select(k => k.Single()).ToList();
        var library = RunLibrary(model, Context.Data.LoadFromEnumerable(VariableSequences.Make(5, 2).Append(new VariableRow()).Select(r => new { r.Features })));
        Assert.That(appliedKeys, Is.EqualTo(library.Keys), "ApplyOnnxModel feeds a variable-size column row by row");
        Assert.That(appliedKeys[^1], Is.Zero);
    }

    [Test]
    public void BothDirectionsOfATwoLayerBidirectionalModelExport()
    {
        var options = VariableSequences.Options();
        options.NumberOfLayers = 2;
        options.Bidirectional = true;
        options.Dropout = 0.1;
        using var model = Context.Transforms.LstmClassifier(options)
            .Fit(VariableSequences.Keyer(Context).Transform(Context.Data.LoadFromEnumerable(VariableSequences.Make(300, 3))));
        var padded = VariableSequences.Padded(VariableSequences.Make(80, 4), float.NaN).Select(r => new PaddedFeatures { Features = r.Features }).ToList();
        var data = Context.Data.LoadFromEnumerable(padded);
        AssertAgree(RunOnnx(Export(model, data), padded.Select(r => r.Features).ToList()), RunLibrary(model, data));
    }

    [Test]
    public void ChannelMajorLayoutAndPerChannelNormalisationExport()
    {
        var options = SyntheticSequences.QuickOptions();
        options.FeatureLayout = FeatureLayout.ChannelMajor;
        options.InputNormalization = InputNormalization.PerChannel;
        var train = SyntheticSequences.Make(300, 5).Select(r => new SequenceRow { Label = r.Label, Features = r.Features.Select(v => v * 50 + 7).ToArray() });
        using var model = Context.Transforms.LstmClassifier(options)
            .Fit(VariableSequences.Keyer(Context).Transform(Context.Data.LoadFromEnumerable(train)));
        var rows = SyntheticSequences.Make(100, 6).Select(r => r.Features.Select(v => v * 50 + 7).ToArray()).ToList();
        var data = Context.Data.LoadFromEnumerable(rows.Select(f => new FixedFeatures { Features = f }));
        AssertAgree(RunOnnx(Export(model, data), rows), RunLibrary(model, data));
    }

    [Test]
    public void AModelWrittenBy010ExportsWithItsOwnNaNRule()
    {
        var folder = Path.Combine(AppContext.BaseDirectory, "Fixtures", "0.1.0");
        var model = Classifier(new MLContext().Model.Load(Path.Combine(folder, "text-labels.zip"), out _));
        var rows = ModelFixtures.RowsOf(ModelFixtures.ReadExpected(folder)).Select(r => r.Features).ToList();
        rows[0] = (float[])rows[0].Clone();
        Array.Fill(rows[0], float.NaN, SequenceRow.Length - SequenceRow.InputsPerStep, SequenceRow.InputsPerStep);
        var data = Context.Data.LoadFromEnumerable(rows.Select(f => new FixedFeatures { Features = f }));
        var library = RunLibrary(model, data);
        Assert.That(library.Keys[0], Is.Zero, "0.1.0 scored a trailing NaN step as missing");
        AssertAgree(RunOnnx(Export(model, data), rows), library);
    }

    [Test]
    public void MissingExportInternalsAreNamed()
    {
        var missing = MlNetInternals.InternalMember.Method("Microsoft.ML.Data", "Microsoft.ML.Model.OnnxConverter.OnnxContext", "AddEverything", "System.Void");
        var message = MlNetInternals.InternalApiCheck.FindProblem([.. MlNetInternals.InternalApiCheck.OnnxMembers, missing], "ONNX export");
        Assert.That(message, Does.Contain("ONNX export").And.Contain("OnnxContext.AddEverything"));
        Assert.That(MlNetInternals.InternalApiCheck.FindProblem(MlNetInternals.InternalApiCheck.OnnxMembers, "ONNX export"), Is.Null);
    }
}
