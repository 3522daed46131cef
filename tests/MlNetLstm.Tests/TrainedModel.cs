using Microsoft.ML;

namespace MlNetLstm.Tests;

/// <summary>One model fitted on the synthetic task, shared by tests that only read it.</summary>
public static class TrainedModel
{
    public const int TrainRows = 1_500;
    public const int TestRows = 400;
    public const int TrainSeed = 11;
    public const int TestSeed = 12;

    private static readonly Lazy<(MLContext, ITransformer)> Fitted = new(() =>
    {
        var mlContext = new MLContext(seed: 1);
        var pipeline = mlContext.Transforms.Conversion.MapValueToKey("Label")
            .Append(mlContext.Transforms.LstmClassifier(SyntheticSequences.QuickOptions()));
        return (mlContext, pipeline.Fit(SyntheticSequences.Load(mlContext, TrainRows, TrainSeed)));
    });

    public static MLContext Context => Fitted.Value.Item1;
    public static ITransformer Model => Fitted.Value.Item2;
    public static IDataView TestData => SyntheticSequences.Load(Context, TestRows, TestSeed);
}
