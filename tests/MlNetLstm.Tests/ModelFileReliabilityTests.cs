using System.Security.Cryptography;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MlNetLstm.Tests;

/// <summary>Damaged, foreign and newer model files fail with clear managed exceptions and are never modified.</summary>
public class ModelFileReliabilityTests : TempFolderTest
{
    [Test]
    public void EmptyFileIsRefused()
    {
        var path = Path.Combine(Folder, "empty.zip");
        File.WriteAllBytes(path, Array.Empty<byte>());
        AssertLoadFails(path);
    }

    [Test]
    public void FileThatIsNotAZipIsRefused()
    {
        var path = Path.Combine(Folder, "notes.zip");
        File.WriteAllText(path, "this is not a model\n");
        AssertLoadFails(path);
    }

    [Test]
    public void ModelFromANewerClassifierVersionIsRefused()
    {
        var path = SaveTrainedModel();
        // Mark the classifier's ML.NET model header as written by, and only readable by, a newer version.
        ZipEntries.Rewrite(path, name => name.EndsWith("Model.key"), header =>
        {
            if (!IsOurs(header))
                return null;
            BitConverter.TryWriteBytes(header.AsSpan(ModelHeaderVersionOffset), 0x00020001u);
            BitConverter.TryWriteBytes(header.AsSpan(ModelHeaderVersionOffset + 4), 0x00020001u);
            return header;
        });
        var e = AssertLoadFails(path);
        Assert.That(e.ToString(), Does.Contain("version").IgnoreCase);
    }

    [Test]
    public void NewerWeightsFormatIsRefusedByName()
    {
        var path = SaveTrainedModel();
        // A format version this build does not know, with a valid checksum, as a newer MlNetLstm would write.
        ZipEntries.Rewrite(path, name => name.EndsWith("LstmClassifier.bin"), content =>
        {
            var body = content[..^32];
            BitConverter.TryWriteBytes(body.AsSpan(4), 2);
            return body.Concat(SHA256.HashData(body)).ToArray();
        });
        var e = AssertLoadFails(path);
        Assert.That(Innermost(e), Is.TypeOf<InvalidDataException>().With.Message.Contains("format version 2"));
    }

    [Test]
    public void CraftedHugeClassCountIsRefusedBeforeAllocating()
    {
        var path = SaveTrainedModel();
        // A valid checksum over an impossible shape: 2^25 classes.
        RewriteWeights(path, body => BitConverter.TryWriteBytes(body.AsSpan(ClassCountOffset), 1 << 25));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var e = AssertLoadFails(path);
        Assert.That(Innermost(e), Is.TypeOf<InvalidDataException>().With.Message.Contains("more than the file holds"));
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(5)));
    }

    [Test]
    public void CraftedDuplicateWeightNameIsRefused()
    {
        var path = SaveTrainedModel();
        RewriteWeights(path, body =>
        {
            var from = System.Text.Encoding.ASCII.GetBytes("bias_hh_l0");
            int at = body.AsSpan().IndexOf(from);
            System.Text.Encoding.ASCII.GetBytes("bias_ih_l0").CopyTo(body, at);
        });
        var e = AssertLoadFails(path);
        Assert.That(Innermost(e), Is.TypeOf<InvalidDataException>().With.Message.Contains("twice"));
    }

    [Test]
    public void AtomicSaveLeavesTheOldModelIntactWhenSavingFails()
    {
        var path = SaveTrainedModel();
        var good = File.ReadAllBytes(path);

        var mlContext = new MLContext(seed: 1);
        var options = SyntheticSequences.QuickOptions();
        options.TrainingSamples = 32;
        var data = SyntheticSequences.Load(mlContext, 50, 1);
        var broken = mlContext.Transforms.Conversion.MapValueToKey("Label").Append(mlContext.Transforms.LstmClassifier(options)).Fit(data);
        broken.LastTransformer.Dispose();

        Assert.Throws<ObjectDisposedException>(() => mlContext.Model.SaveAtomically(broken, data.Schema, path));
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(good));
        Assert.That(Directory.GetFiles(Folder), Is.EqualTo(new[] { path }), "no temporary file is left behind");
        Assert.DoesNotThrow(() => new MLContext().Model.Load(path, out _));
    }

    [Test]
    public void AtomicSaveReplacesAnExistingModel()
    {
        var path = Path.Combine(Folder, "model.zip");
        File.WriteAllText(path, "old");
        TrainedModel.Context.Model.SaveAtomically(TrainedModel.Model, TrainedModel.TestData.Schema, path);
        var loaded = new MLContext().Model.Load(path, out _);
        Assert.That(loaded.Transform(TrainedModel.TestData).GetColumn<float[]>("Score").First(),
            Is.EqualTo(TrainedModel.Model.Transform(TrainedModel.TestData).GetColumn<float[]>("Score").First()));
    }

    // ML.NET's model header: signature, two versions, six block positions and sizes, then the model
    // signature (offset 64) and the model's written/readable versions (offsets 72 and 76).
    private const int ModelSignatureOffset = 64;
    private const int ModelHeaderVersionOffset = 72;

    private string SaveTrainedModel()
    {
        var path = Path.Combine(Folder, "model.zip");
        TrainedModel.Context.Model.Save(TrainedModel.Model, TrainedModel.TestData.Schema, path);
        return path;
    }

    /// <summary>Loading fails with a managed exception and leaves the file byte for byte as it was.</summary>
    private static Exception AssertLoadFails(string path)
    {
        var before = File.ReadAllBytes(path);
        var e = Assert.Catch(() => new MLContext().Model.Load(path, out _));
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(before), "loading never modifies the file");
        return e!;
    }

    // Magic, format version, four length-prefixed column names (Label, Features, Score, PredictedLabel),
    // then FeatureLength, SequenceLength, HiddenSize, NumberOfLayers, Bidirectional, ClassCount.
    private const int ClassCountOffset = 8 + (1 + 5) + (1 + 8) + (1 + 5) + (1 + 14) + 4 * 4 + 1;

    /// <summary>Edits the classifier's record and recomputes its checksum, as a crafted file would.</summary>
    private static void RewriteWeights(string path, Action<byte[]> edit) =>
        ZipEntries.Rewrite(path, name => name.EndsWith("LstmClassifier.bin"), content =>
        {
            var body = content[..^32];
            edit(body);
            return body.Concat(SHA256.HashData(body)).ToArray();
        });

    private static bool IsOurs(byte[] header) =>
        header.Length > ModelSignatureOffset + 8
        && System.Text.Encoding.ASCII.GetString(header, ModelSignatureOffset, 8) == "MNLSTMCL";

    private static Exception Innermost(Exception e) => e.InnerException is null ? e : Innermost(e.InnerException);
}
