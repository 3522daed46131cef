using Microsoft.ML;
using Microsoft.ML.Data;

namespace MlNetLstm.Tests;

/// <summary>A row whose features are a variable-size vector: step-major, <see cref="VariableSequences.Channels"/> values per step.</summary>
public sealed class VariableRow
{
    public string Label { get; set; } = "";
    public float[] Features { get; set; } = [];
}

/// <summary>The same rows padded to one size, for a known-size feature column.</summary>
public sealed class PaddedRow
{
    public const int Length = VariableSequences.MaxSteps * VariableSequences.Channels;

    public string Label { get; set; } = "";

    [VectorType(Length)]
    public float[] Features { get; set; } = new float[Length];
}

/// <summary>
/// Sequences of 3 to 12 steps of 2 channels whose level rises ("up"), falls ("down") or alternates
/// ("zigzag"); the class shows in the shape, wherever the sequence ends.
/// </summary>
public static class VariableSequences
{
    public const int Channels = 2;
    public const int MinSteps = 3;
    public const int MaxSteps = 12;

    public static List<VariableRow> Make(int count, int seed, int minSteps = MinSteps, int maxSteps = MaxSteps)
    {
        var random = new Random(seed);
        var rows = new List<VariableRow>(count);
        for (int i = 0; i < count; i++)
        {
            int label = random.Next(3);
            int steps = random.Next(minSteps, maxSteps + 1);
            var features = new float[steps * Channels];
            for (int t = 0; t < steps; t++)
            {
                double level = label switch { 0 => t * 0.3, 1 => -t * 0.3, _ => t % 2 == 0 ? 0.8 : -0.8 };
                features[t * Channels] = (float)(level + 0.3 * (random.NextDouble() - 0.5));
                features[t * Channels + 1] = (float)(0.5 * level + 0.3 * (random.NextDouble() - 0.5));
            }
            rows.Add(new VariableRow { Label = SyntheticSequences.Classes[label], Features = features });
        }
        return rows;
    }

    /// <summary>The rows padded at the end to <see cref="MaxSteps"/> steps with <paramref name="padding"/>.</summary>
    public static List<PaddedRow> Padded(IEnumerable<VariableRow> rows, float padding) =>
        rows.Select(r =>
        {
            var features = Enumerable.Repeat(padding, PaddedRow.Length).ToArray();
            r.Features.CopyTo(features, 0);
            return new PaddedRow { Label = r.Label, Features = features };
        }).ToList();

    public static LstmClassifierOptions Options(int seed = 3) => new()
    {
        InputSize = Channels,
        HiddenSize = 16,
        BatchSize = 16,
        TrainingSamples = 1_600,
        LearningRate = 0.01,
        Seed = seed,
    };

    /// <summary>MapValueToKey fitted on every class, so differently shaped data gets the same keys.</summary>
    public static ITransformer Keyer(MLContext mlContext) =>
        mlContext.Transforms.Conversion.MapValueToKey("Label")
            .Fit(mlContext.Data.LoadFromEnumerable(SyntheticSequences.Classes.Select(c => new VariableRow { Label = c })));
}
