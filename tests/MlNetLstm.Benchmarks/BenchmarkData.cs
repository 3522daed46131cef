using Microsoft.ML;
using Microsoft.ML.Data;
using static TorchSharp.torch;

namespace MlNetLstm.Benchmarks;

/// <summary>The shipped MNIST split, as ML.NET data views (cached in memory) and as tensors.</summary>
public sealed class BenchmarkData : IDisposable
{
    public required IDataView Train { get; init; }
    public required IDataView Test { get; init; }
    public required Tensor TrainFeatures { get; init; }
    public required Tensor TrainLabels { get; init; }
    public required Tensor TestFeatures { get; init; }
    public required List<DigitRow> TestRows { get; init; }
    public int TrainRows => (int)TrainFeatures.shape[0];

    public static BenchmarkData Load(MLContext mlContext, string folder)
    {
        var files = MnistIdxFiles.InFolder(folder);
        // Both contenders start from data in memory: tensors for the raw loop, a cache for ML.NET.
        var train = mlContext.Data.Cache(mlContext.Data.LoadFromMnistIdx(files.TrainImages, files.TrainLabels));
        var test = mlContext.Data.Cache(mlContext.Data.LoadFromMnistIdx(files.TestImages, files.TestLabels));
        var trainRows = mlContext.Data.CreateEnumerable<DigitRow>(train, reuseRowObject: false).ToList();
        var testRows = mlContext.Data.CreateEnumerable<DigitRow>(test, reuseRowObject: false).ToList();
        return new BenchmarkData
        {
            Train = train,
            Test = test,
            TrainFeatures = tensor(trainRows.SelectMany(r => r.Features).ToArray(), new long[] { trainRows.Count, 784 }),
            TrainLabels = tensor(trainRows.Select(r => (long)r.Label).ToArray()),
            TestFeatures = tensor(testRows.SelectMany(r => r.Features).ToArray(), new long[] { testRows.Count, 784 }),
            TestRows = testRows,
        };
    }

    public void Dispose()
    {
        TrainFeatures.Dispose();
        TrainLabels.Dispose();
        TestFeatures.Dispose();
    }
}

public sealed class DigitRow
{
    public float Label { get; set; }

    [VectorType(784)]
    public float[] Features { get; set; } = Array.Empty<float>();
}

public sealed class DigitPrediction
{
    public float[] Score { get; set; } = Array.Empty<float>();
    public uint PredictedLabel { get; set; }
}
