using Microsoft.ML;
using Microsoft.ML.Data;

namespace MlNetLstm.Tests;

public class LstmClassifierSchemaTests
{
    [Test]
    public void EstimatorPromisesExactlyTheSchemaTransformDelivers()
    {
        var mlContext = new MLContext(seed: 1);
        var keyed = mlContext.Transforms.Conversion.MapValueToKey("Label").Fit(SyntheticSequences.Load(mlContext, 200, 3))
            .Transform(SyntheticSequences.Load(mlContext, 200, 3));
        var options = SyntheticSequences.QuickOptions();
        options.TrainingSamples = 64;
        var estimator = mlContext.Transforms.LstmClassifier(options);

        var promised = estimator.GetOutputSchema(SchemaShapes.Of(keyed.Schema));
        using var model = estimator.Fit(keyed);
        var delivered = SchemaShapes.Of(model.Transform(keyed).Schema);

        Assert.That(Describe(promised), Is.EqualTo(Describe(delivered)));
        Assert.That(model.GetOutputSchema(keyed.Schema).Select(c => c.Name),
            Is.EqualTo(model.Transform(keyed).Schema.Select(c => c.Name)));
    }

    [Test]
    public void ScoreAndPredictedLabelCarryMulticlassAnnotations()
    {
        var schema = TrainedModel.Model.Transform(TrainedModel.TestData).Schema;
        var score = schema["Score"];
        Assert.That(score.Type, Is.EqualTo(new VectorDataViewType(NumberDataViewType.Single, 3)));

        VBuffer<ReadOnlyMemory<char>> names = default;
        score.GetSlotNames(ref names);
        Assert.That(names.DenseValues().Select(n => n.ToString()), Is.EqualTo(new[] { "down", "up", "zigzag" }.OrderBy(LabelOrder)));
        Assert.That(Text(score, "ScoreColumnKind"), Is.EqualTo("MulticlassClassification"));
        Assert.That(Text(score, "ScoreValueKind"), Is.EqualTo("Score"));
        Assert.That(score.Annotations.Schema["ScoreColumnSetId"].Type, Is.InstanceOf<KeyDataViewType>());
        Assert.That(score.Annotations.Schema["TrainingLabelValues"].Type,
            Is.EqualTo(new VectorDataViewType(TextDataViewType.Instance, 3)));

        var predicted = schema["PredictedLabel"];
        Assert.That(predicted.Type, Is.EqualTo(new KeyDataViewType(typeof(uint), 3)));
        VBuffer<ReadOnlyMemory<char>> keyValues = default;
        predicted.GetKeyValues(ref keyValues);
        Assert.That(keyValues.DenseValues().Select(n => n.ToString()), Is.EqualTo(names.DenseValues().Select(n => n.ToString())));
    }

    [Test]
    public void NumericLabelValuesBecomeTextSlotNames()
    {
        var mlContext = new MLContext(seed: 1);
        var rows = SyntheticSequences.Make(100, 3).Select(r => new NumericLabelRow
        {
            Label = Array.IndexOf(SyntheticSequences.Classes, r.Label) * 10f,
            Features = r.Features,
        });
        var options = SyntheticSequences.QuickOptions();
        options.TrainingSamples = 32;
        var model = mlContext.Transforms.Conversion.MapValueToKey("Label")
            .Append(mlContext.Transforms.LstmClassifier(options))
            .Fit(mlContext.Data.LoadFromEnumerable(rows));
        var score = model.Transform(mlContext.Data.LoadFromEnumerable(rows)).Schema["Score"];
        VBuffer<ReadOnlyMemory<char>> names = default;
        score.GetSlotNames(ref names);
        Assert.That(names.DenseValues().Select(n => n.ToString()), Is.EquivalentTo(new[] { "0", "10", "20" }));
        Assert.That(score.Annotations.Schema["TrainingLabelValues"].Type,
            Is.EqualTo(new VectorDataViewType(NumberDataViewType.Single, 3)));
    }

    // MapValueToKey numbers keys in order of first appearance; the test data's first rows decide it.
    private static int LabelOrder(string label) =>
        SyntheticSequences.Make(TrainedModel.TrainRows, TrainedModel.TrainSeed).Select(r => r.Label).Distinct().ToList().IndexOf(label);

    private static string Text(DataViewSchema.Column column, string kind)
    {
        ReadOnlyMemory<char> value = default;
        column.Annotations.GetValue(kind, ref value);
        return value.ToString();
    }

    private static string Describe(SchemaShape shape) => string.Join("\n", shape.OrderBy(c => c.Name).Select(c =>
        $"{c.Name}: {c.Kind} {c.ItemType} key={c.IsKey} [{string.Join(", ", c.Annotations.OrderBy(a => a.Name).Select(a => $"{a.Name}:{a.Kind} {a.ItemType} key={a.IsKey}"))}]"));

    public sealed class NumericLabelRow
    {
        public float Label { get; set; }

        [VectorType(SequenceRow.Length)]
        public float[] Features { get; set; } = Array.Empty<float>();
    }
}
