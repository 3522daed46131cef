using System.IO.Compression;
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
            BitConverter.TryWriteBytes(body.AsSpan(4), Persistence.LstmModelFormat.CurrentVersion + 1);
            return body.Concat(SHA256.HashData(body)).ToArray();
        });
        var e = AssertLoadFails(path);
        Assert.That(Innermost(e), Is.TypeOf<InvalidDataException>().With.Message.Contains($"format version {Persistence.LstmModelFormat.CurrentVersion + 1}"));
    }

    [Test]
    public void CraftedHugeClassCountIsRefusedBeforeAllocating()
    {
        var path = SaveTrainedModel();
        // A valid checksum over an impossible shape: 2^25 classes.
        RewriteWeights(path, body => BitConverter.TryWriteBytes(body.AsSpan(ClassCountOffset), 1 << 25));
        var e = AssertLoadFails(path);
        Assert.That(Innermost(e), Is.TypeOf<InvalidDataException>().With.Message.Contains("more than the entry's"));
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

    [TestCase(false, Description = "the zip declares the entry's true, inflated length")]
    [TestCase(true, Description = "the zip declares the entry's original length but it inflates far beyond")]
    public void DecompressionBombIsRefusedOrIgnoredWithinBoundedMemory(bool declaresOriginalLength)
    {
        const long padding = 300L << 20; // 300 MB of zeros after the real entry: about 3 MB compressed
        var original = SaveTrainedModel();
        var path = BombFrom(original, padding, declaresOriginalLength);
        Assert.That(new FileInfo(path).Length, Is.LessThan(padding / 50), "a small file that inflates fifty times and more");
        var bytes = File.ReadAllBytes(path);

        long allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        Exception? failure = null;
        ITransformer? loaded = null;
        try
        {
            loaded = new MLContext().Model.Load(path, out _);
        }
        catch (Exception e)
        {
            failure = e;
        }
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;

        TestContext.Out.WriteLine($"{(failure is null ? "loaded" : Innermost(failure).Message)} ({allocated / 1e6:F1} MB allocated)");
        Assert.That(allocated, Is.LessThan(padding / 10), "nothing like the inflated size is read into memory");
        Assert.That(File.ReadAllBytes(path).AsSpan().SequenceEqual(bytes), "loading never modifies the file");
        if (declaresOriginalLength && loaded is not null)
        {
            // The zip stops the entry at its declared length: what loads is exactly the original model.
            Assert.That(ScoresOf(loaded), Is.EqualTo(ScoresOf(TrainedModel.Model)));
            return;
        }
        Assert.That(failure is null ? null : Innermost(failure), Is.TypeOf<InvalidDataException>());
    }

    private static string[] ScoresOf(ITransformer model) =>
        model.Transform(TrainedModel.TestData).GetColumn<float[]>("Score").Select(ScoreText.Format).ToArray();

    /// <summary>A copy of a model zip whose classifier entry has <paramref name="padding"/> zero bytes appended.</summary>
    private string BombFrom(string model, long padding, bool declareOriginalLength)
    {
        var bomb = Path.Combine(Folder, "bomb.zip");
        long originalLength = 0;
        using (var source = ZipFile.OpenRead(model))
        using (var target = ZipFile.Open(bomb, ZipArchiveMode.Create))
        {
            foreach (var entry in source.Entries)
            {
                using var from = entry.Open();
                using var to = target.CreateEntry(entry.FullName, CompressionLevel.Fastest).Open();
                from.CopyTo(to);
                if (!entry.FullName.EndsWith(ClassifierEntry))
                    continue;
                originalLength = entry.Length;
                var zeros = new byte[1 << 20];
                for (long written = 0; written < padding; written += zeros.Length)
                    to.Write(zeros);
            }
        }
        if (declareOriginalLength)
            DeclareUncompressedLength(bomb, ClassifierEntry, (uint)originalLength);
        return bomb;
    }

    /// <summary>Rewrites the uncompressed size an entry's central directory record and local header declare.</summary>
    private static void DeclareUncompressedLength(string zip, string entryName, uint length)
    {
        var bytes = File.ReadAllBytes(zip);
        for (int at = 0; at + 46 < bytes.Length; at++)
        {
            if (BitConverter.ToUInt32(bytes, at) != 0x02014b50) // central directory file header
                continue;
            int nameLength = BitConverter.ToUInt16(bytes, at + 28);
            if (!System.Text.Encoding.UTF8.GetString(bytes, at + 46, nameLength).EndsWith(entryName))
                continue;
            BitConverter.TryWriteBytes(bytes.AsSpan(at + 24), length);
            int local = (int)BitConverter.ToUInt32(bytes, at + 42);
            BitConverter.TryWriteBytes(bytes.AsSpan(local + 22), length);
        }
        File.WriteAllBytes(zip, bytes);
    }

    private const string ClassifierEntry = "LstmClassifier.bin";

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
    // then InputSize, HiddenSize, NumberOfLayers, Bidirectional, ClassCount.
    private const int ClassCountOffset = 8 + (1 + 5) + (1 + 8) + (1 + 5) + (1 + 14) + 3 * 4 + 1;

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
