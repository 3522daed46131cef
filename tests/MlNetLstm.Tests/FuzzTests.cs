using System.IO.Compression;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MlNetLstm.Tests;

/// <summary>
/// Seeded random damage to IDX files and model zips: every outcome must be success or a managed
/// exception — never a native crash or a hang.
/// </summary>
public class FuzzTests : TempFolderTest
{
    private const int Cases = 200;
    private static readonly TimeSpan CaseTimeout = TimeSpan.FromSeconds(20);

    [Test]
    public void DamagedIdxFilesLoadOrFailCleanly()
    {
        var images = Enumerable.Range(0, 20).Select(i => Enumerable.Range(0, 28 * 28).Select(p => (byte)(i * 7 + p)).ToArray()).ToArray();
        var labels = Enumerable.Range(0, 20).Select(i => (byte)(i % 10)).ToArray();
        var random = new Random(1234);
        var outcomes = new Dictionary<string, int>();
        for (int i = 0; i < Cases; i++)
        {
            bool gzip = i % 2 == 0;
            var imagesPath = Path.Combine(Folder, $"images{i}" + (gzip ? ".gz" : ""));
            var labelsPath = Path.Combine(Folder, $"labels{i}" + (gzip ? ".gz" : ""));
            IdxWriter.WriteImages(imagesPath, images, 28, 28, gzip);
            IdxWriter.WriteLabels(labelsPath, labels, gzip);
            Damage(random.Next(2) == 0 ? imagesPath : labelsPath, random);

            var outcome = RunWithTimeout(() =>
            {
                var data = new MLContext().Data.LoadFromMnistIdx(imagesPath, labelsPath);
                var features = data.GetColumn<float[]>("Features").ToList();
                Assert.That(features, Has.Count.EqualTo(images.Length));
                Assert.That(features, Has.All.Length.EqualTo(28 * 28));
                Assert.That(data.GetColumn<float>("Label"), Has.All.InRange(0f, 255f));
            });
            // The IDX loader promises InvalidDataException for every damaged file it cannot read.
            Assert.That(outcome, Is.AnyOf("ok", nameof(InvalidDataException)), $"case {i}");
            Record(outcomes, outcome);
        }
        TestContext.Out.WriteLine(string.Join(", ", outcomes.Select(o => $"{o.Key}: {o.Value}")));
        Assert.That(outcomes.Values.Sum(), Is.EqualTo(Cases));
    }

    [Test]
    public void DamagedModelZipsLoadOrFailCleanly()
    {
        var good = Path.Combine(Folder, "good.zip");
        TrainedModel.Context.Model.Save(TrainedModel.Model, TrainedModel.TestData.Schema, good);
        var goodBytes = File.ReadAllBytes(good);
        var rows = SyntheticSequences.Make(20, 5);
        var expected = Scores(TrainedModel.Model, TrainedModel.Context.Data.LoadFromEnumerable(rows));
        var random = new Random(4321);
        var outcomes = new Dictionary<string, int>();
        for (int i = 0; i < Cases; i++)
        {
            var path = Path.Combine(Folder, $"model{i}.zip");
            File.WriteAllBytes(path, goodBytes);
            if (i % 4 == 0)
                DamageInsideEntry(path, random);
            else
                Damage(path, random);
            var damaged = File.ReadAllBytes(path);

            var outcome = RunWithTimeout(() =>
            {
                var mlContext = new MLContext();
                var model = mlContext.Model.Load(path, out _);
                using var owned = model as IDisposable;
                Assert.That(Scores(model, mlContext.Data.LoadFromEnumerable(rows)), Is.EqualTo(expected),
                    $"case {i}: a damaged file that loads scores exactly like the original");
            });
            Assert.That(outcome, Is.AnyOf(ModelFileOutcomes), $"case {i}");
            Record(outcomes, outcome);
            Assert.That(File.ReadAllBytes(path).AsSpan().SequenceEqual(damaged), "loading never modifies the file");
        }
        TestContext.Out.WriteLine(string.Join(", ", outcomes.Select(o => $"{o.Key}: {o.Value}")));
        Assert.That(outcomes.Values.Sum(), Is.EqualTo(Cases));
    }

    /// <summary>
    /// What loading a damaged model zip may end in (innermost exception), as README's Reliability section
    /// states: the classifier's own entry fails with InvalidDataException; damage elsewhere in ML.NET's zip
    /// fails with what ML.NET and System.IO.Compression throw for it.
    /// </summary>
    private static readonly string[] ModelFileOutcomes =
    {
        "ok", nameof(InvalidDataException), nameof(FormatException), nameof(EndOfStreamException), nameof(FileLoadException),
    };

    private static string[] Scores(ITransformer model, IDataView data)
    {
        var scored = model.Transform(data);
        return scored.GetColumn<float[]>("Score").Select(ScoreText.Format)
            .Zip(scored.GetColumn<uint>("PredictedLabel"), (score, key) => $"{score}/{key}").ToArray();
    }

    /// <summary>Flips bytes, truncates, or overwrites the header of a file.</summary>
    private static void Damage(string path, Random random)
    {
        var bytes = File.ReadAllBytes(path);
        switch (random.Next(3))
        {
            case 0:
                for (int k = random.Next(1, 8); k > 0; k--)
                    bytes[random.Next(bytes.Length)] ^= (byte)random.Next(1, 256);
                break;
            case 1:
                bytes = bytes[..random.Next(bytes.Length)];
                break;
            default:
                for (int k = 0; k < Math.Min(16, bytes.Length); k++)
                    if (random.Next(3) == 0)
                        bytes[k] = (byte)random.Next(256);
                break;
        }
        File.WriteAllBytes(path, bytes);
    }

    /// <summary>Flips bytes inside one decompressed zip entry, so the zip itself stays valid.</summary>
    private static void DamageInsideEntry(string path, Random random)
    {
        string[] names;
        using (var zip = ZipFile.OpenRead(path))
            names = zip.Entries.Select(e => e.FullName).ToArray();
        var chosen = names[random.Next(names.Length)];
        ZipEntries.Rewrite(path, name => name == chosen, content =>
        {
            if (content.Length > 0)
                content[random.Next(content.Length)] ^= (byte)random.Next(1, 256);
            return content;
        });
    }

    /// <summary>"ok" or the innermost exception's type name; fails the test on a hang or a failed assertion.</summary>
    private static string RunWithTimeout(Action action)
    {
        var task = Task.Run(() =>
        {
            try
            {
                action();
                return "ok";
            }
            catch (Exception e) when (e is not AssertionException)
            {
                return Innermost(e).GetType().Name;
            }
        });
        Assert.That(task.Wait(CaseTimeout), "the case finished without hanging");
        return task.Result;
    }

    private static void Record(Dictionary<string, int> outcomes, string outcome) =>
        outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;

    private static Exception Innermost(Exception e) => e.InnerException is null ? e : Innermost(e.InnerException);
}
