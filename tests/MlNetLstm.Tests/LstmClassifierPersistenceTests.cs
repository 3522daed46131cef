using Microsoft.ML;
using Microsoft.ML.Data;

namespace MlNetLstm.Tests;

public class LstmClassifierPersistenceTests : TempFolderTest
{
    [Test]
    public void ReloadedModelInANewContextGivesIdenticalScores()
    {
        var path = Save();
        var loaded = new MLContext().Model.Load(path, out var inputSchema);
        Assert.That(ScoresOf(loaded), Is.EqualTo(ScoresOf(TrainedModel.Model)));
        Assert.That(inputSchema.Select(c => c.Name), Is.EquivalentTo(new[] { "Label", "Features" }));
    }

    [Test]
    public void ReloadedModelKeepsItsSchemaAndMetadata()
    {
        var loaded = new MLContext().Model.Load(Save(), out _);
        var original = TrainedModel.Model.Transform(TrainedModel.TestData).Schema;
        var reloaded = loaded.Transform(TrainedModel.TestData).Schema;
        Assert.That(reloaded.Select(c => $"{c.Name}:{c.Type}:{string.Join(",", c.Annotations.Schema.Select(a => a.Name))}"),
            Is.EqualTo(original.Select(c => $"{c.Name}:{c.Type}:{string.Join(",", c.Annotations.Schema.Select(a => a.Name))}")));
        var lstm = ((TransformerChain<ITransformer>)loaded).OfType<LstmClassifierTransformer>().Single();
        Assert.That((lstm.FeatureLength, lstm.SequenceLength, lstm.HiddenSize, lstm.ClassCount), Is.EqualTo((32, 8, 16, 3)));
    }

    [Test]
    public void SameFileLoadsManyTimesInOneProcess()
    {
        var path = Save();
        var expected = ScoresOf(TrainedModel.Model);
        for (int i = 0; i < 3; i++)
        {
            var loaded = new MLContext().Model.Load(path, out _);
            Assert.That(ScoresOf(loaded), Is.EqualTo(expected));
            ((IDisposable)loaded).Dispose();
        }
    }

    [Test]
    public void ModelLoadsInAFreshProcessWithoutRegistration()
    {
        var output = ChildProcess.RunTestProgram("score", Save(), $"{TrainedModel.TestRows}", $"{TrainedModel.TestSeed}");
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Is.EqualTo(ScoresOf(TrainedModel.Model)));
    }

    [Test]
    public void TruncatedModelFileFailsWithAClearException()
    {
        var path = Save();
        var bytes = File.ReadAllBytes(path);
        var truncated = Path.Combine(Folder, "truncated.zip");
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 2)]);
        // Cut in half, the zip loses its central directory: System.IO.Compression refuses it.
        Assert.That(() => new MLContext().Model.Load(truncated, out _), Throws.InstanceOf<FormatException>()
            .With.InnerException.TypeOf<InvalidDataException>());
        Assert.That(File.ReadAllBytes(truncated), Is.EqualTo(bytes[..(bytes.Length / 2)]), "loading never modifies the file");
    }

    [Test]
    public void DamagedWeightsAreRefusedByChecksum()
    {
        var path = Save();
        // One flipped byte in the middle of the weights.
        ZipEntries.Rewrite(path, name => name.EndsWith("LstmClassifier.bin"), content =>
        {
            content[content.Length / 2] ^= 0x40;
            return content;
        });
        // ML.NET invokes loaders by reflection, so the loader's exception arrives wrapped.
        var e = Assert.Catch(() => new MLContext().Model.Load(path, out _));
        Assert.That(Innermost(e!), Is.TypeOf<InvalidDataException>()
            .With.Message.Contains("damaged").And.Message.Contains("checksum"));
    }

    private static Exception Innermost(Exception e) => e.InnerException is null ? e : Innermost(e.InnerException);

    private string Save()
    {
        var path = Path.Combine(Folder, "model.zip");
        TrainedModel.Context.Model.Save(TrainedModel.Model, TrainedModel.TestData.Schema, path);
        return path;
    }

    private static string[] ScoresOf(ITransformer model) =>
        model.Transform(TrainedModel.TestData).GetColumn<float[]>("Score").Select(ScoreText.Format).ToArray();
}
