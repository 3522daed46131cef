using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MlNetLstm.Tests;

/// <summary>
/// Model files written by a released MlNetLstm, with the exact scores they gave, so every later version
/// can prove it still loads and scores them identically. <c>write-fixture DIR</c> (Program.cs) writes a
/// set with the code being built; the committed sets were written by the version their folder names.
/// </summary>
public static class ModelFixtures
{
    public const string ExpectedFile = "expected.json";

    /// <summary>The models of a fixture set: a pipeline file name and how it was trained.</summary>
    public static readonly (string File, Func<MLContext, ITransformer> Fit)[] Models =
    {
        ("text-labels.zip", FitTextLabels),
        ("bidirectional-two-layers.zip", FitBidirectional),
    };

    public static void Write(string folder)
    {
        Directory.CreateDirectory(folder);
        var rows = InputRows();
        var expected = new Dictionary<string, List<ExpectedRow>>();
        foreach (var (file, fit) in Models)
        {
            var mlContext = new MLContext(seed: 1);
            var model = fit(mlContext);
            var data = mlContext.Data.LoadFromEnumerable(rows);
            mlContext.Model.Save(model, data.Schema, Path.Combine(folder, file));
            expected[file] = Score(mlContext, model, rows);
        }
        var document = new FixtureDocument(rows.Select(r => r.Features.Select(Bits).ToArray()).ToArray(), expected);
        File.WriteAllText(Path.Combine(folder, ExpectedFile), JsonSerializer.Serialize(document));
    }

    /// <summary>Scores and predicted labels (as text) of <paramref name="rows"/>, through Transform.</summary>
    public static List<ExpectedRow> Score(MLContext mlContext, ITransformer model, IReadOnlyList<FixtureRow> rows)
    {
        var scored = model.Transform(mlContext.Data.LoadFromEnumerable(rows));
        var scores = scored.GetColumn<float[]>("Score").ToList();
        var keys = scored.GetColumn<uint>("PredictedLabel").ToList();
        return scores.Zip(keys, (s, k) => new ExpectedRow(s.Select(Bits).ToArray(), k)).ToList();
    }

    public static FixtureDocument ReadExpected(string folder) =>
        JsonSerializer.Deserialize<FixtureDocument>(File.ReadAllText(Path.Combine(folder, ExpectedFile)))!;

    public static List<FixtureRow> RowsOf(FixtureDocument document) =>
        document.Features.Select(f => new FixtureRow { Label = "up", Features = f.Select(FromBits).ToArray() }).ToList();

    public static string Bits(float value) => BitConverter.SingleToInt32Bits(value).ToString("x8");

    public static float FromBits(string bits) => BitConverter.Int32BitsToSingle(Convert.ToInt32(bits, 16));

    /// <summary>Test rows of the synthetic task, plus one row with a NaN (scored as NaN with key 0).</summary>
    private static List<FixtureRow> InputRows()
    {
        var rows = SyntheticSequences.Make(40, 77).Select(r => new FixtureRow { Label = r.Label, Features = r.Features }).ToList();
        rows[5].Features[9] = float.NaN;
        return rows;
    }

    private static ITransformer FitTextLabels(MLContext mlContext)
    {
        var options = SyntheticSequences.QuickOptions(seed: 5);
        options.TrainingSamples = 1_600;
        return mlContext.Transforms.Conversion.MapValueToKey("Label")
            .Append(mlContext.Transforms.LstmClassifier(options))
            .Fit(SyntheticSequences.Load(mlContext, 400, 71));
    }

    private static ITransformer FitBidirectional(MLContext mlContext)
    {
        var options = SyntheticSequences.QuickOptions(seed: 6);
        options.TrainingSamples = 1_600;
        options.NumberOfLayers = 2;
        options.Bidirectional = true;
        options.Dropout = 0.1;
        options.HiddenSize = 8;
        return mlContext.Transforms.Conversion.MapValueToKey("Label")
            .Append(mlContext.Transforms.LstmClassifier(options))
            .Append(mlContext.Transforms.Conversion.MapKeyToValue("PredictedLabelText", "PredictedLabel"))
            .Fit(SyntheticSequences.Load(mlContext, 400, 72));
    }

    public sealed class FixtureRow
    {
        public string Label { get; set; } = "";

        [VectorType(SequenceRow.Length)]
        public float[] Features { get; set; } = new float[SequenceRow.Length];
    }

    public sealed record ExpectedRow(string[] Score, uint PredictedLabel);

    public sealed record FixtureDocument(string[][] Features, Dictionary<string, List<ExpectedRow>> Models);
}
