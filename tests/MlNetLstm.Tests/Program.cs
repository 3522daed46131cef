using Microsoft.ML;
using Microsoft.ML.Data;

namespace MlNetLstm.Tests;

/// <summary>
/// Lets a test run this assembly as a separate process ("dotnet MlNetLstm.Tests.dll score MODEL"), to
/// prove a saved model loads in a fresh process with a plain MLContext and no registration call.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args is not ["score", var modelPath, var rowCount, var seed])
        {
            Console.Error.WriteLine("usage: score MODEL ROWS SEED");
            return 2;
        }
        var mlContext = new MLContext();
        var model = mlContext.Model.Load(modelPath, out _);
        var data = SyntheticSequences.Load(mlContext, int.Parse(rowCount), int.Parse(seed));
        foreach (var score in model.Transform(data).GetColumn<float[]>("Score"))
            Console.WriteLine(ScoreText.Format(score));
        return 0;
    }
}

public static class ScoreText
{
    /// <summary>Exact text of a score vector (float bits in hex), for bitwise comparison across processes.</summary>
    public static string Format(float[] score) =>
        string.Join(",", score.Select(v => BitConverter.SingleToInt32Bits(v).ToString("x8")));
}
