using Microsoft.ML;
using Microsoft.ML.Data;

namespace MlNetLstm.Tests;

/// <summary>One labelled row of the synthetic sequence task.</summary>
public sealed class SequenceRow
{
    public const int Steps = 8;
    public const int InputsPerStep = 4;
    public const int Length = Steps * InputsPerStep;

    public string Label { get; set; } = "";

    [VectorType(Length)]
    public float[] Features { get; set; } = new float[Length];
}

/// <summary>
/// A small task only a sequence model solves well: each row is 8 steps of 4 noisy inputs whose level
/// rises ("up"), falls ("down") or alternates ("zigzag") over time. The mean is the same for every class.
/// </summary>
public static class SyntheticSequences
{
    public static readonly string[] Classes = { "up", "down", "zigzag" };

    public static List<SequenceRow> Make(int count, int seed)
    {
        var random = new Random(seed);
        var rows = new List<SequenceRow>(count);
        for (int i = 0; i < count; i++)
        {
            int label = random.Next(Classes.Length);
            var features = new float[SequenceRow.Length];
            for (int step = 0; step < SequenceRow.Steps; step++)
            {
                double t = step / (double)(SequenceRow.Steps - 1) * 2 - 1; // -1 .. 1
                double level = label switch { 0 => t, 1 => -t, _ => step % 2 == 0 ? 0.8 : -0.8 };
                for (int k = 0; k < SequenceRow.InputsPerStep; k++)
                    features[step * SequenceRow.InputsPerStep + k] = (float)(level + 0.35 * Gaussian(random));
            }
            rows.Add(new SequenceRow { Label = Classes[label], Features = features });
        }
        return rows;
    }

    public static IDataView Load(MLContext mlContext, int count, int seed) =>
        mlContext.Data.LoadFromEnumerable(Make(count, seed));

    /// <summary>Small, quick settings that still learn the task well.</summary>
    public static LstmClassifierOptions QuickOptions(int? seed = 7) => new()
    {
        SequenceLength = SequenceRow.Steps,
        HiddenSize = 16,
        BatchSize = 32,
        TrainingSamples = 4_000,
        LearningRate = 0.01,
        DisplayStep = 25,
        Seed = seed,
    };

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
