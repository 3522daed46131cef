using Microsoft.ML;
using Microsoft.ML.Data;

namespace MlNetLstm.Tests;

public class MnistIdxTests : TempFolderTest
{
    private const int Rows = 3, Columns = 4;
    private static readonly MLContext Context = new(seed: 1);

    [TestCase(false)]
    [TestCase(true)]
    public void RoundTripsImagesAndLabels(bool gzip)
    {
        var images = Enumerable.Range(0, 5).Select(i => Enumerable.Range(0, Rows * Columns).Select(p => (byte)(i * 50 + p)).ToArray()).ToArray();
        var labels = new byte[] { 7, 0, 9, 3, 3 };
        var (imagesPath, labelsPath) = Write(images, labels, gzip);

        var data = Context.Data.LoadFromMnistIdx(imagesPath, labelsPath);
        Assert.That(data.GetRowCount(), Is.EqualTo(5));
        Assert.That(data.Schema["Features"].Type.ToString(), Is.EqualTo("Vector<Single, 3, 4>"));
        Assert.That(data.GetColumn<float>("Label"), Is.EqualTo(labels.Select(l => (float)l)));
        var features = data.GetColumn<float[]>("Features").ToArray();
        for (int i = 0; i < images.Length; i++)
            Assert.That(features[i], Is.EqualTo(images[i].Select(b => b / 255f)));
    }

    [Test]
    public void GettersRefuseBeforeTheFirstRowAndAfterTheLast()
    {
        var (imagesPath, labelsPath) = Write(new[] { new byte[Rows * Columns] }, new byte[] { 4 });
        var data = Context.Data.LoadFromMnistIdx(imagesPath, labelsPath);
        using var cursor = data.GetRowCursor(data.Schema);
        var label = cursor.GetGetter<float>(data.Schema["Label"]);
        float value = 0;
        Assert.Throws<InvalidOperationException>(() => label(ref value));
        Assert.That(cursor.MoveNext());
        label(ref value);
        Assert.That(value, Is.EqualTo(4f));
        Assert.That(cursor.MoveNext(), Is.False);
        Assert.Throws<InvalidOperationException>(() => label(ref value));
    }

    [Test]
    public void ShippedDataHasTheDocumentedSplit()
    {
        var files = MnistIdxFiles.InFolder(ShippedData.Folder);
        var train = Context.Data.LoadFromMnistIdx(files.TrainImages, files.TrainLabels);
        var test = Context.Data.LoadFromMnistIdx(files.TestImages, files.TestLabels);
        Assert.That(train.GetRowCount(), Is.EqualTo(8000));
        Assert.That(test.GetRowCount(), Is.EqualTo(2000));
        var trainCounts = train.GetColumn<float>("Label").GroupBy(l => l).OrderBy(g => g.Key).Select(g => g.Count());
        Assert.That(trainCounts, Is.EqualTo(new[] { 801, 902, 793, 826, 784, 690, 811, 856, 755, 782 }));
        Assert.That(test.GetColumn<float[]>("Features").First(), Has.Length.EqualTo(784).And.All.InRange(0f, 1f));
    }

    [Test]
    public void WrongMagicNumberIsRefusedNamingTheFile()
    {
        var (imagesPath, labelsPath) = Write(new[] { new byte[Rows * Columns] }, new byte[] { 1 });
        var e = Assert.Throws<InvalidDataException>(() => Context.Data.LoadFromMnistIdx(labelsPath, labelsPath));
        Assert.That(e!.Message, Does.Contain(labelsPath).And.Contain("magic"));
        e = Assert.Throws<InvalidDataException>(() => Context.Data.LoadFromMnistIdx(imagesPath, imagesPath));
        Assert.That(e!.Message, Does.Contain(imagesPath).And.Contain("magic"));
    }

    [Test]
    public void CountMismatchIsRefusedNamingBothFiles()
    {
        var (imagesPath, labelsPath) = Write(new[] { new byte[Rows * Columns], new byte[Rows * Columns] }, new byte[] { 1 });
        var e = Assert.Throws<InvalidDataException>(() => Context.Data.LoadFromMnistIdx(imagesPath, labelsPath));
        Assert.That(e!.Message, Does.Contain(imagesPath).And.Contain(labelsPath).And.Contain("2 images").And.Contain("1 labels"));
    }

    [TestCase(false)]
    [TestCase(true)]
    public void TruncatedFileIsRefusedNamingTheFile(bool gzip)
    {
        var images = Enumerable.Range(0, 4).Select(_ => new byte[Rows * Columns]).ToArray();
        var (imagesPath, labelsPath) = Write(images, new byte[4]);
        // Drop the last 5 bytes: the header still announces 4 images.
        var truncated = File.ReadAllBytes(imagesPath)[..^5];
        using (var file = File.Create(imagesPath))
        using (var stream = gzip ? new System.IO.Compression.GZipStream(file, System.IO.Compression.CompressionLevel.Fastest) : (Stream)file)
            stream.Write(truncated);

        var e = Assert.Throws<InvalidDataException>(() => Context.Data.LoadFromMnistIdx(imagesPath, labelsPath));
        Assert.That(e!.Message, Does.Contain(imagesPath).And.Contain("announces 4 images but ends after 3"));
    }

    [Test]
    public void CutGzipStreamIsRefused()
    {
        var images = Enumerable.Range(0, 50).Select(i => Enumerable.Range(0, Rows * Columns).Select(p => (byte)(i * p)).ToArray()).ToArray();
        var (imagesPath, labelsPath) = Write(images, new byte[50], gzip: true);
        var bytes = File.ReadAllBytes(imagesPath);
        File.WriteAllBytes(imagesPath, bytes[..(bytes.Length / 2)]);
        Assert.That(() => Context.Data.LoadFromMnistIdx(imagesPath, labelsPath),
            Throws.TypeOf<InvalidDataException>().With.Message.Contains(imagesPath));
    }

    [Test]
    public void MissingFilesAndFoldersAreNamed()
    {
        var missing = Path.Combine(Folder, "nope-idx3-ubyte");
        Assert.That(() => Context.Data.LoadFromMnistIdx(missing, missing),
            Throws.TypeOf<FileNotFoundException>().With.Message.Contains(missing));
        Assert.That(() => MnistIdxFiles.InFolder(Path.Combine(Folder, "absent")), Throws.TypeOf<DirectoryNotFoundException>());
        Assert.That(() => MnistIdxFiles.InFolder(Folder),
            Throws.TypeOf<FileNotFoundException>().With.Message.Contains("train-images-idx3-ubyte"));
    }

    private (string Images, string Labels) Write(byte[][] images, byte[] labels, bool gzip = false)
    {
        var imagesPath = Path.Combine(Folder, gzip ? "images-idx3-ubyte.gz" : "images-idx3-ubyte");
        var labelsPath = Path.Combine(Folder, gzip ? "labels-idx1-ubyte.gz" : "labels-idx1-ubyte");
        IdxWriter.WriteImages(imagesPath, images, Rows, Columns, gzip);
        IdxWriter.WriteLabels(labelsPath, labels, gzip);
        return (imagesPath, labelsPath);
    }
}
