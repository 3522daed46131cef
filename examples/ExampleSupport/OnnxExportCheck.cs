using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MlNetLstm;

namespace ExampleSupport;

/// <summary>
/// Exports a pipeline's LSTM classifier to ONNX with ML.NET's <c>ConvertToOnnx</c>, scores the test rows with
/// ONNX Runtime and compares with the library — what a deployment without libtorch would serve.
/// </summary>
public static class OnnxExportCheck
{
    /// <param name="Rows">Test rows scored by both.</param>
    /// <param name="MaxScoreDifference">Largest |ΔScore| over every class of every usable row.</param>
    /// <param name="KeysDiffering">Rows whose predicted key differs.</param>
    public sealed record Agreement(int Rows, double MaxScoreDifference, int KeysDiffering)
    {
        /// <summary>Keys equal and scores within float rounding of a different runtime.</summary>
        public bool Agrees => KeysDiffering == 0 && MaxScoreDifference <= 1e-4;
    }

    /// <summary>With <paramref name="onnxPath"/> set (--onnx): exports, compares, prints the agreement and returns it.</summary>
    public static Agreement? RunIfRequested(MLContext mlContext, ITransformer model, IDataView test, string? onnxPath)
    {
        if (onnxPath is null)
            return null;
        var agreement = Run(mlContext, model, test, onnxPath);
        ConsoleOutput.Say($"ONNX model written to {onnxPath}; ONNX Runtime on the {agreement.Rows:N0} test rows: max |ΔScore| {agreement.MaxScoreDifference:E2}, predicted keys {(agreement.KeysDiffering == 0 ? "all equal" : $"{agreement.KeysDiffering} different")}");
        return agreement;
    }

    public static Agreement Run(MLContext mlContext, ITransformer model, IDataView test, string onnxPath)
    {
        var classifier = model as LstmClassifierTransformer ?? ((IEnumerable<ITransformer>)model).OfType<LstmClassifierTransformer>().Single();
        string column = classifier.FeatureColumnName;
        var rows = test.GetColumn<float[]>(column).ToList();

        // Exported over a view of the features alone: every column of that view becomes a graph input.
        var definition = SchemaDefinition.Create(typeof(FeaturesRow));
        definition[nameof(FeaturesRow.Features)].ColumnName = column;
        definition[nameof(FeaturesRow.Features)].ColumnType = test.Schema[column].Type;
        var featuresOnly = mlContext.Data.LoadFromEnumerable(rows.Select(r => new FeaturesRow { Features = r }), definition);
        using (var file = File.Create(onnxPath))
            mlContext.Model.ConvertToOnnx(classifier, featuresOnly, file);

        var scored = classifier.Transform(featuresOnly);
        var expectedScores = scored.GetColumn<float[]>(classifier.ScoreColumnName).ToList();
        var expectedKeys = scored.GetColumn<uint>(classifier.PredictedLabelColumnName).ToList();

        // ONNX Runtime takes one tensor: rows of other lengths are padded with NaN, which the graph drops as padding.
        int width = rows.Max(r => r.Length);
        var values = new float[rows.Count * width];
        Array.Fill(values, float.NaN);
        for (int i = 0; i < rows.Count; i++)
            rows[i].CopyTo(values, i * width);
        // The graph's input has the column's dimensions: [rows, 28, 28] for MNIST's images, [rows, length] otherwise.
        var type = (VectorDataViewType)test.Schema[column].Type;
        int[] dims = type.IsKnownSize ? [rows.Count, .. type.Dimensions] : [rows.Count, width];
        using var session = new InferenceSession(onnxPath);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(column, new DenseTensor<float>(values, dims))]);
        var scores = results.Single(r => r.Name == classifier.ScoreColumnName + ".output").AsTensor<float>();
        var keys = results.Single(r => r.Name == classifier.PredictedLabelColumnName + ".output").AsTensor<uint>();

        double worst = 0;
        int differing = 0;
        for (int i = 0; i < rows.Count; i++)
        {
            if (keys[i, 0] != expectedKeys[i])
                differing++;
            for (int c = 0; c < expectedScores[i].Length; c++)
            {
                float expected = expectedScores[i][c], actual = scores[i, c];
                // A row missing on one side only is as far apart as it gets.
                worst = float.IsNaN(expected) || float.IsNaN(actual)
                    ? (float.IsNaN(expected) == float.IsNaN(actual) ? worst : double.PositiveInfinity)
                    : Math.Max(worst, Math.Abs(expected - actual));
            }
        }
        return new Agreement(rows.Count, worst, differing);
    }

    private sealed class FeaturesRow
    {
        public float[] Features { get; set; } = [];
    }
}
