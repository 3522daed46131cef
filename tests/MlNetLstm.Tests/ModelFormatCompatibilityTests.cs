using Microsoft.ML;

namespace MlNetLstm.Tests;

/// <summary>Model files written by earlier MlNetLstm versions keep loading and scoring bit for bit.</summary>
public class ModelFormatCompatibilityTests
{
    private static string FixtureFolder(string version) => Path.Combine(AppContext.BaseDirectory, "Fixtures", version);

    public static IEnumerable<TestCaseData> FixtureModels() => ModelsOf("0.1.0");

    public static IEnumerable<TestCaseData> EveryFixtureModel() => ModelsOf("0.1.0", "0.2.0-format3");

    private static IEnumerable<TestCaseData> ModelsOf(params string[] versions) =>
        from version in versions
        from model in ModelFixtures.Models
        select new TestCaseData(version, model.File).SetName($"{{m}}({version}, {model.File})");

    [TestCaseSource(nameof(EveryFixtureModel))]
    public void ModelWrittenByAnEarlierVersionScoresExactlyAsItDid(string version, string file)
    {
        // Format 3's single-layer model scores with the fused kernel, whose bits are those of AVX-512.
        if (version == "0.2.0-format3" && file == "text-labels.zip" && !MlNetLstm.Network.Fused.FusedLstmKernel.IsSupported)
            Assert.Ignore("This CPU has no AVX-512: the model scores through libtorch, to within float rounding only.");
        var folder = FixtureFolder(version);
        var document = ModelFixtures.ReadExpected(folder);
        var rows = ModelFixtures.RowsOf(document);
        var mlContext = new MLContext();
        var model = mlContext.Model.Load(Path.Combine(folder, file), out _);
        try
        {
            var actual = ModelFixtures.Score(mlContext, model, rows);
            Assert.That(actual.Select(r => string.Join(",", r.Score) + "/" + r.PredictedLabel),
                Is.EqualTo(document.Models[file].Select(r => string.Join(",", r.Score) + "/" + r.PredictedLabel)));
            Assert.That(actual.Count(r => r.PredictedLabel == 0), Is.EqualTo(1), "the NaN row gets the missing key");
        }
        finally
        {
            (model as IDisposable)?.Dispose();
        }
    }

    [TestCaseSource(nameof(FixtureModels))]
    public void ModelWrittenBy010StillScoresTrailingNaNStepsAsMissing(string version, string file)
    {
        // 0.1.0 gave NaN scores and the missing key to any row holding a NaN; trailing all-NaN steps being
        // padding came later and applies to models written since.
        var folder = FixtureFolder(version);
        var rows = ModelFixtures.RowsOf(ModelFixtures.ReadExpected(folder)).Take(3).ToList();
        foreach (var (row, steps) in rows.Zip(new[] { 1, 2, SequenceRow.Steps }))
            Array.Fill(row.Features, float.NaN, SequenceRow.Length - steps * SequenceRow.InputsPerStep, steps * SequenceRow.InputsPerStep);
        var mlContext = new MLContext();
        var model = mlContext.Model.Load(Path.Combine(folder, file), out _);
        try
        {
            var scored = ModelFixtures.Score(mlContext, model, rows);
            Assert.That(scored.Select(r => r.PredictedLabel), Has.All.EqualTo(0u));
            Assert.That(scored.SelectMany(r => r.Score).Select(ModelFixtures.FromBits), Has.All.NaN);
        }
        finally
        {
            (model as IDisposable)?.Dispose();
        }
    }
}
