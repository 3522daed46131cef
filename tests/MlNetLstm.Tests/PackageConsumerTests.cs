using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using System.Xml.Linq;

namespace MlNetLstm.Tests;

/// <summary>
/// Packs src/MlNetLstm as a user would and consumes the package from a fresh console app outside the
/// solution: restore from a local folder feed (plus nuget.org for the dependencies), build, then fit,
/// save, load and predict with TorchSharp's native library really loaded. On Debian 12 and other
/// systems with an older libstdc++ that only works thanks to the package's buildTransitive targets.
/// </summary>
/// <remarks>
/// Each run packs a unique prerelease version, so the machine's global package cache (reused, for
/// speed) can never serve a stale copy; that version is removed from the cache afterwards.
/// </remarks>
[NonParallelizable]
public class PackageConsumerTests
{
    private const string PackageId = "MlNetLstm";

    private string work = "";
    private string feed = "";
    private string version = "";
    private string package = "";

    [OneTimeSetUp]
    public void Pack()
    {
        work = Directory.CreateTempSubdirectory("mlnetlstm-package-").FullName;
        feed = Path.Combine(work, "feed");
        version = $"0.1.0-test.{DateTime.UtcNow:yyyyMMddHHmmssfff}";
        // Its own artifacts path keeps this build's obj/bin apart from the solution's (and from any
        // build running at the same time); the versions are the ones this test run was built with.
        Run(RepositoryRoot, "pack", "src/MlNetLstm", "-c", "Release", "-o", feed,
            "--artifacts-path", Path.Combine(work, "artifacts"),
            $"-p:Version={version}", $"-p:MicrosoftMLVersion={BuildVersions.MicrosoftML}",
            $"-p:TorchSharpVersion={BuildVersions.TorchSharp}");
        package = Path.Combine(feed, $"{PackageId}.{version}.nupkg");
        Assert.That(File.Exists(package), $"{package} was created; the feed has: {string.Join(", ", Directory.GetFiles(feed))}");
    }

    [OneTimeTearDown]
    public void Clean()
    {
        if (work != "" && Directory.Exists(work))
            Directory.Delete(work, recursive: true);
    }

    [Test]
    public void ThePackageHoldsTheLibraryDocsReadmeAndTargetsAndDependsOnlyOnTheRealPackages()
    {
        using var zip = ZipFile.OpenRead(package);
        var entries = zip.Entries.Select(e => e.FullName).ToList();
        Assert.That(entries, Is.SupersetOf(new[]
        {
            "lib/net10.0/MlNetLstm.dll", "lib/net10.0/MlNetLstm.xml", "README.md",
            "buildTransitive/MlNetLstm.targets", "build/MlNetLstm.targets", "MlNetLstm.nuspec",
        }));
        // The publicized ML.NET copies and the publicizer are build-time only.
        Assert.That(entries.Where(e => e.EndsWith(".dll", StringComparison.OrdinalIgnoreCase)), Is.EqualTo(new[] { "lib/net10.0/MlNetLstm.dll" }));
        Assert.That(entries.Where(e => e.StartsWith("build", StringComparison.Ordinal)),
            Is.EquivalentTo(new[] { "buildTransitive/MlNetLstm.targets", "build/MlNetLstm.targets" }));
        Assert.That(ReadEntry(zip, "build/MlNetLstm.targets"), Is.EqualTo(File.ReadAllText(Path.Combine(RepositoryRoot, "src/MlNetLstm/buildTransitive/MlNetLstm.targets"))));
        Assert.That(ReadEntry(zip, "buildTransitive/MlNetLstm.targets"), Does.Not.Contain("Publicize"));

        XNamespace ns = "http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd";
        var metadata = XDocument.Parse(ReadEntry(zip, "MlNetLstm.nuspec")).Root!.Element(ns + "metadata")!;
        string Value(string name) => metadata.Element(ns + name)?.Value ?? "";
        Assert.That(Value("id"), Is.EqualTo(PackageId));
        Assert.That(Value("version"), Is.EqualTo(version));
        Assert.That(Value("description"), Is.Not.Empty.And.Not.EqualTo("Package Description"));
        Assert.That(Value("tags"), Does.Contain("ml.net").And.Contain("lstm"));
        Assert.That(Value("readme"), Is.EqualTo("README.md"));
        var license = metadata.Element(ns + "license")!;
        Assert.That((license.Attribute("type")?.Value, license.Value), Is.EqualTo(("expression", "MIT")));
        var repository = metadata.Element(ns + "repository")!;
        Assert.That(repository.Attribute("type")?.Value, Is.EqualTo("git"));
        Assert.That(repository.Attribute("commit")?.Value, Does.Match("^[0-9a-f]{40}$"));
        Assert.That(repository.Attribute("url"), Is.Null, "no repository URL is claimed");

        var groups = metadata.Element(ns + "dependencies")!.Elements(ns + "group").ToList();
        Assert.That(groups.Select(g => g.Attribute("targetFramework")?.Value), Is.EqualTo(new[] { "net10.0" }));
        var dependencies = groups[0].Elements(ns + "dependency")
            .Select(d => $"{d.Attribute("id")!.Value} {d.Attribute("version")!.Value}");
        Assert.That(dependencies, Is.EquivalentTo(new[]
        {
            $"Microsoft.ML {BuildVersions.MicrosoftML}",
            $"Microsoft.ML.DataView {BuildVersions.MicrosoftML}",
            $"TorchSharp-cpu {BuildVersions.TorchSharp}",
        }));
    }

    [Test]
    public void TheProjectIsVersion020()
    {
        var output = Run(RepositoryRoot, "msbuild", "src/MlNetLstm", "-getProperty:PackageId", "-getProperty:Version");
        Assert.That(output, Does.Contain($"\"PackageId\": \"{PackageId}\"").And.Contain("\"Version\": \"0.2.0\""));
    }

    [Test]
    public void AFreshConsoleAppAddsTheLocalPackageBuildsAndTrainsSavesLoadsAndPredicts()
    {
        var app = Path.Combine(work, "Consumer");
        DotnetCli.WriteConsoleApp(app, "Consumer", ConsumerProgram);
        File.WriteAllText(Path.Combine(app, "NuGet.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="local" value="{feed}" />
                <add key="nuget.org" value="https://api.nuget.org/v3/index.json" protocolVersion="3" />
              </packageSources>
            </configuration>
            """);

        string? packageFolder = null;
        try
        {
            Run(app, "add", "package", PackageId, "--version", version);
            packageFolder = RestoredPackageFolder(app);
            Assert.That(File.ReadAllText(Path.Combine(app, "obj", "Consumer.csproj.nuget.g.targets")),
                Does.Contain($"mlnetlstm/{version}/buildTransitive/MlNetLstm.targets"), "NuGet imports the package's targets");

            Run(app, "build", "-c", "Release");
            var output = Run(app, "run", "--no-build", "-c", "Release");

            Assert.That(output, Does.Contain("reloaded scores identical: True"));
            Assert.That(output, Does.Match(@"accuracy (0\.9[0-9]*|1\.000)"));
        }
        finally
        {
            // This run's unique version is of no use to anyone else: keep the global cache clean.
            if (packageFolder is not null && Directory.Exists(packageFolder))
            {
                Directory.Delete(packageFolder, recursive: true);
                var idFolder = Path.GetDirectoryName(packageFolder)!;
                if (!Directory.EnumerateFileSystemEntries(idFolder).Any())
                    Directory.Delete(idFolder);
            }
        }
    }

    // Fit -> save -> load in a new MLContext -> predict, on 200 synthetic rows of 16 floats (4 steps of
    // 4 inputs) in 2 classes: the level rises over the steps or falls.
    private const string ConsumerProgram = """
        using Microsoft.ML;
        using Microsoft.ML.Data;
        using MlNetLstm;

        var mlContext = new MLContext(seed: 1);
        var random = new Random(1);
        var rows = Enumerable.Range(0, 200).Select(i =>
        {
            bool up = i % 2 == 0;
            var features = new float[16];
            for (int step = 0; step < 4; step++)
                for (int k = 0; k < 4; k++)
                    features[step * 4 + k] = (up ? step - 1.5f : 1.5f - step) + (float)(random.NextDouble() - 0.5);
            return new Row { Label = up ? "up" : "down", Features = features };
        }).ToList();
        var data = mlContext.Data.LoadFromEnumerable(rows);

        var pipeline = mlContext.Transforms.Conversion.MapValueToKey("Label")
            .Append(mlContext.Transforms.LstmClassifier(new LstmClassifierOptions
            {
                SequenceLength = 4, HiddenSize = 8, BatchSize = 32, TrainingSamples = 640, LearningRate = 0.01, Seed = 1,
            }))
            .Append(mlContext.Transforms.Conversion.MapKeyToValue("PredictedLabel"));
        var model = pipeline.Fit(data);
        var path = Path.Combine(AppContext.BaseDirectory, "model.zip");
        mlContext.Model.Save(model, data.Schema, path);

        var loaded = new MLContext().Model.Load(path, out _);
        var engine = new MLContext().Model.CreatePredictionEngine<Row, Prediction>(loaded);
        var accuracy = rows.Count(r => engine.Predict(r).PredictedLabel == r.Label) / (double)rows.Count;
        var before = model.Transform(data).GetColumn<float[]>("Score").ToList();
        var after = loaded.Transform(data).GetColumn<float[]>("Score").ToList();
        bool identical = before.Zip(after).All(p => p.First.SequenceEqual(p.Second));
        Console.WriteLine($"libtorch {TorchSharp.torch.__version__}, accuracy {accuracy:F3}, reloaded scores identical: {identical}");
        return 0;

        public sealed class Row
        {
            public string Label { get; set; } = "";
            [VectorType(16)] public float[] Features { get; set; } = new float[16];
        }

        public sealed class Prediction
        {
            public string PredictedLabel { get; set; } = "";
            public float[] Score { get; set; } = [];
        }
        """;

    private static string ReadEntry(ZipArchive zip, string name)
    {
        using var reader = new StreamReader(zip.GetEntry(name)!.Open());
        return reader.ReadToEnd();
    }

    // Where restore put this run's package: the first package folder in project.assets.json.
    private string RestoredPackageFolder(string app)
    {
        using var assets = JsonDocument.Parse(File.ReadAllText(Path.Combine(app, "obj", "project.assets.json")));
        var root = assets.RootElement.GetProperty("packageFolders").EnumerateObject().First().Name;
        return Path.Combine(root, PackageId.ToLowerInvariant(), version);
    }

    private static string RepositoryRoot => DotnetCli.RepositoryRoot;

    private static string Run(string directory, params string[] arguments) => DotnetCli.Run(directory, arguments);
}
