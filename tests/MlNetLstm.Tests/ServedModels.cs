using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;

namespace MlNetLstm.Tests;

/// <summary>
/// Small models saved as the examples save theirs, trained once per test run for the WebService tests: a
/// digit model shaped like examples/MnistLstm's, and a variable-length model with text labels like
/// examples/TimeSeries'.
/// </summary>
public static class ServedModels
{
    private static readonly Lazy<string> Folder = new(() =>
    {
        var folder = Directory.CreateTempSubdirectory("mlnetlstm-served-").FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Directory.Delete(folder, recursive: true);
        return folder;
    });

    private static readonly Lazy<string> DigitModel = new(() =>
    {
        // MapValueToKey → LstmClassifier → MapKeyToValue over the shipped digits, as MnistExperiment builds it;
        // 64 units and 8,000 samples at a higher learning rate train in a few seconds to about 0.8 (the example: 0.95).
        var mlContext = new MLContext(seed: 1);
        var files = MnistIdxFiles.InFolder(ShippedData.Folder);
        var train = mlContext.Data.LoadFromMnistIdx(files.TrainImages, files.TrainLabels);
        var model = mlContext.Transforms.Conversion.MapValueToKey("Label", keyOrdinality: ValueToKeyMappingEstimator.KeyOrdinality.ByValue)
            .Append(mlContext.Transforms.LstmClassifier(new LstmClassifierOptions
            {
                HiddenSize = 64, TrainingSamples = 8_000, LearningRate = 0.01, Seed = 1,
            }))
            .Append(mlContext.Transforms.Conversion.MapKeyToValue("PredictedLabel"))
            .Fit(train);
        return SaveAndDispose(mlContext, model, train.Schema, "digits.zip");
    });

    private static readonly Lazy<string> SequenceModel = new(() =>
    {
        var mlContext = new MLContext(seed: 1);
        var train = mlContext.Data.LoadFromEnumerable(VariableSequences.Make(300, 21));
        var model = mlContext.Transforms.Conversion.MapValueToKey("Label")
            .Append(mlContext.Transforms.LstmClassifier(VariableSequences.Options()))
            .Append(mlContext.Transforms.Conversion.MapKeyToValue("PredictedLabel"))
            .Fit(train);
        return SaveAndDispose(mlContext, model, train.Schema, "sequences.zip");
    });

    /// <summary>Saves <paramref name="model"/> as <paramref name="fileName"/> in the shared folder, frees it, and returns the file's path.</summary>
    private static string SaveAndDispose(MLContext mlContext, ITransformer model, DataViewSchema inputSchema, string fileName)
    {
        var path = Path.Combine(Folder.Value, fileName);
        mlContext.Model.Save(model, inputSchema, path);
        (model as IDisposable)?.Dispose();
        return path;
    }

    /// <summary>784 features (28 steps of 28), float labels 0–9.</summary>
    public static string Digits => DigitModel.Value;

    /// <summary>Variable-size features, 2 values per step, labels "up", "down", "zigzag".</summary>
    public static string Sequences => SequenceModel.Value;

    /// <summary>The first <paramref name="count"/> shipped test digits.</summary>
    public static List<DigitInput> TestDigits(int count)
    {
        var mlContext = new MLContext();
        var files = MnistIdxFiles.InFolder(ShippedData.Folder);
        return mlContext.Data.CreateEnumerable<DigitInput>(mlContext.Data.LoadFromMnistIdx(files.TestImages, files.TestLabels), reuseRowObject: false)
            .Take(count).ToList();
    }
}

public sealed class DigitInput
{
    public float Label { get; set; }

    [VectorType(784)]
    public float[] Features { get; set; } = [];
}

public sealed class DigitOutput
{
    public float[] Score { get; set; } = [];
    public float PredictedLabel { get; set; }
}

public sealed class SequenceOutput
{
    public float[] Score { get; set; } = [];
    public string PredictedLabel { get; set; } = "";
}

/// <summary>
/// The model zip loaded as any application would, scored by the library's own PredictionEngine: what the
/// service's answers are checked against.
/// </summary>
public sealed class OfflineModel<TInput, TOutput> : IDisposable where TInput : class where TOutput : class, new()
{
    private readonly ITransformer model;
    private readonly PredictionEngine<TInput, TOutput> engine;

    public OfflineModel(string path)
    {
        var mlContext = new MLContext();
        model = mlContext.Model.Load(path, out _);
        engine = mlContext.Model.CreatePredictionEngine<TInput, TOutput>(model, new PredictionEngineOptions { OwnsTransformer = false });
    }

    public TOutput Predict(TInput input) => engine.Predict(input);

    public void Dispose()
    {
        engine.Dispose();
        (model as IDisposable)?.Dispose();
    }
}

/// <summary>The service in-process, serving <paramref name="modelPath"/> with the given settings (configuration keys).</summary>
public sealed class ServiceFactory(string modelPath, params (string Key, string Value)[] settings)
    : WebApplicationFactory<WebService.Program>
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting(WebService.ServiceOptions.ModelKey, modelPath);
        // libtorch's thread count is process-wide: the service keeps the test process's as it is.
        builder.UseSetting(WebService.ServiceOptions.TorchThreadsKey, TorchSharp.torch.get_num_threads().ToString(System.Globalization.CultureInfo.InvariantCulture));
        foreach (var (key, value) in settings)
            builder.UseSetting(key, value);
    }
}

public static class ServiceClients
{
    /// <summary>A client once GET /health says the model is loaded.</summary>
    public static async Task<HttpClient> ReadyClientAsync(this WebApplicationFactory<WebService.Program> factory)
    {
        var client = factory.CreateClient();
        var deadline = DateTime.UtcNow.AddMinutes(1);
        while ((await client.GetAsync("/health")).StatusCode != System.Net.HttpStatusCode.OK)
        {
            if (DateTime.UtcNow > deadline)
                Assert.Fail("The service did not load its model within a minute.");
            await Task.Delay(50);
        }
        return client;
    }
}
