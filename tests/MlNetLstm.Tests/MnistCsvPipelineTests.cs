using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MlNetLstm.Tests;

/// <summary>
/// MNIST as CSV (the common Kaggle layout: a header, then label and 784 pixel values 0–255 per line)
/// goes through ML.NET's own LoadFromTextFile and Expression transform, and trains exactly as the IDX
/// loader's data does.
/// </summary>
public class MnistCsvPipelineTests
{
    private const int TrainRows = 1_000, TestRows = 300;

    [Test]
    public void CsvPipelineTrainsToTheSameAccuracyAsIdx()
    {
        var mlContext = new MLContext(seed: 1);
        var files = MnistIdxFiles.InFolder(ShippedData.Folder);
        var idxTrain = mlContext.Data.TakeRows(mlContext.Data.LoadFromMnistIdx(files.TrainImages, files.TrainLabels), TrainRows);
        var idxTest = mlContext.Data.TakeRows(mlContext.Data.LoadFromMnistIdx(files.TestImages, files.TestLabels), TestRows);

        var directory = Directory.CreateTempSubdirectory("mlnetlstm-csv-").FullName;
        try
        {
            var trainCsv = WriteCsv(idxTrain, Path.Combine(directory, "train.csv"));
            var testCsv = WriteCsv(idxTest, Path.Combine(directory, "test.csv"));
            var columns = new[]
            {
                new TextLoader.Column("Label", DataKind.Single, 0),
                new TextLoader.Column("Pixels", DataKind.Single, 1, 784),
            };
            var csvTrain = mlContext.Data.LoadFromTextFile(trainCsv, columns, separatorChar: ',', hasHeader: true);
            var csvTest = mlContext.Data.LoadFromTextFile(testCsv, columns, separatorChar: ',', hasHeader: true);

            var csvAccuracy = Accuracy(mlContext, mlContext.Transforms.Expression("Features", "x => x / 255", "Pixels"), csvTrain, csvTest);
            var idxAccuracy = Accuracy(mlContext, null, idxTrain, idxTest);

            Assert.That(idxAccuracy, Is.GreaterThan(0.6), "a real model was trained");
            Assert.That(csvAccuracy, Is.EqualTo(idxAccuracy), "identical pixels and seed give an identical model");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static double Accuracy(MLContext mlContext, IEstimator<ITransformer>? prepare, IDataView train, IDataView test)
    {
        var options = new LstmClassifierOptions { HiddenSize = 64, TrainingSamples = 10_000, LearningRate = 0.005, Seed = 3 };
        var classifier = mlContext.Transforms.Conversion.MapValueToKey("Label").Append(mlContext.Transforms.LstmClassifier(options));
        var pipeline = prepare is null ? (IEstimator<ITransformer>)classifier : prepare.Append(classifier);
        var model = pipeline.Fit(train);
        return mlContext.MulticlassClassification.Evaluate(model.Transform(test)).MicroAccuracy;
    }

    private static string WriteCsv(IDataView data, string path)
    {
        using var writer = new StreamWriter(path);
        writer.WriteLine("label," + string.Join(",", Enumerable.Range(0, 784).Select(i => $"pixel{i}")));
        foreach (var row in data.Preview(int.MaxValue).RowView)
        {
            var label = (float)row.Values[0].Value;
            var pixels = ((VBuffer<float>)row.Values[1].Value).DenseValues().Select(v => (int)Math.Round(v * 255));
            writer.WriteLine(label.ToString(CultureInfo.InvariantCulture) + "," + string.Join(",", pixels));
        }
        return path;
    }
}
