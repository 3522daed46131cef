using Microsoft.ML;
using Microsoft.ML.Data;

namespace MlNetLstm.Tests;

public class LstmClassifierInputErrorTests
{
    private static readonly MLContext Context = new(seed: 1);

    [Test]
    public void MissingLabelColumnIsNamed()
    {
        var data = Keyed(SyntheticSequences.Load(Context, 20, 1));
        var options = SyntheticSequences.QuickOptions();
        options.LabelColumnName = "Digit";
        AssertSchemaError(options, data, "'Digit'", "key");
    }

    [Test]
    public void LabelThatIsNotAKeyIsRefused()
    {
        // The raw text label, without MapValueToKey.
        AssertSchemaError(SyntheticSequences.QuickOptions(), SyntheticSequences.Load(Context, 20, 1), "'Label'", "key type");
    }

    [Test]
    public void LabelWithOneClassIsRefused()
    {
        var rows = SyntheticSequences.Make(20, 1).Select(r => { r.Label = "up"; return r; });
        var data = Keyed(Context.Data.LoadFromEnumerable(rows));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Context.Transforms.LstmClassifier(SyntheticSequences.QuickOptions()).Fit(data));
        Assert.That(e!.Message, Does.Contain("'Label'").And.Contain("at least 2"));
    }

    [Test]
    public void MissingFeatureColumnIsNamed()
    {
        var options = SyntheticSequences.QuickOptions();
        options.FeatureColumnName = "Pixels";
        AssertSchemaError(options, Keyed(SyntheticSequences.Load(Context, 20, 1)), "'Pixels'", "vector");
    }

    [Test]
    public void FeaturesOfTheWrongItemTypeAreRefused()
    {
        var data = Keyed(Context.Transforms.Conversion.ConvertType("Features", outputKind: DataKind.Double)
            .Fit(SyntheticSequences.Load(Context, 20, 1)).Transform(SyntheticSequences.Load(Context, 20, 1)));
        AssertSchemaError(SyntheticSequences.QuickOptions(), data, "'Features'", "Single");
    }

    [Test]
    public void VariableSizeFeaturesWithoutInputSizeAreRefused()
    {
        var rows = SyntheticSequences.Make(20, 1).Select(r => new VariableRow { Label = r.Label, Features = r.Features });
        AssertSchemaError(SyntheticSequences.QuickOptions(), Keyed(Context.Data.LoadFromEnumerable(rows)), "'Features'", "variable size", "InputSize");
    }

    [Test]
    public void LengthNotDivisibleBySequenceLengthIsRefused()
    {
        var options = SyntheticSequences.QuickOptions();
        options.SequenceLength = 5; // 32 values cannot be cut into 5 equal steps
        var e = Assert.Throws<ArgumentOutOfRangeException>(() =>
            Context.Transforms.LstmClassifier(options).Fit(Keyed(SyntheticSequences.Load(Context, 20, 1))));
        Assert.That(e!.Message, Does.Contain("'Features'").And.Contain("32").And.Contain("SequenceLength 5"));
    }

    [Test]
    public void TransformRefusesFeaturesThatAreNotWholeSteps()
    {
        // The model reads 4 values per step: 18 values are not a whole number of steps.
        var rows = Enumerable.Range(0, 5).Select(_ => new OddRow { Label = "up", Features = new float[18] });
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => TrainedModel.Model.Transform(
            Context.Data.LoadFromEnumerable(rows)));
        Assert.That(e!.Message, Does.Contain("'Features'").And.Contain("18").And.Contain("InputSize 4"));
    }

    [TestCase(nameof(LstmClassifierOptions.HiddenSize))]
    [TestCase(nameof(LstmClassifierOptions.BatchSize))]
    [TestCase(nameof(LstmClassifierOptions.TrainingSamples))]
    [TestCase(nameof(LstmClassifierOptions.SequenceLength))]
    [TestCase(nameof(LstmClassifierOptions.InputSize))]
    [TestCase(nameof(LstmClassifierOptions.NumberOfLayers))]
    [TestCase(nameof(LstmClassifierOptions.DisplayStep))]
    [TestCase(nameof(LstmClassifierOptions.LearningRate))]
    public void NonPositiveOptionsAreRefusedByName(string option)
    {
        var options = SyntheticSequences.QuickOptions();
        var property = typeof(LstmClassifierOptions).GetProperty(option)!;
        property.SetValue(options, Convert.ChangeType(0, Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Context.Transforms.LstmClassifier(options));
        Assert.That(e!.ParamName, Is.EqualTo(option));
        Assert.That(e.Message, Does.Contain(option));
    }

    [Test]
    public void DropoutOfOneIsRefused()
    {
        var options = SyntheticSequences.QuickOptions();
        options.Dropout = 1;
        Assert.That(() => Context.Transforms.LstmClassifier(options),
            Throws.TypeOf<ArgumentOutOfRangeException>().With.Property("ParamName").EqualTo("Dropout"));
    }

    [Test]
    public void EmptyTrainingDataIsRefused()
    {
        var keyer = Context.Transforms.Conversion.MapValueToKey("Label").Fit(SyntheticSequences.Load(Context, 20, 1));
        var empty = keyer.Transform(Context.Data.LoadFromEnumerable(new List<SequenceRow>()));
        var e = Assert.Throws<InvalidOperationException>(() => Context.Transforms.LstmClassifier(SyntheticSequences.QuickOptions()).Fit(empty));
        Assert.That(e!.Message, Does.Contain("No usable training rows"));
    }

    [Test]
    public void ValidationSetWithOtherFeaturesIsRefusedByName()
    {
        var options = SyntheticSequences.QuickOptions();
        var rows = Enumerable.Range(0, 6).Select(i => new OddRow { Label = SyntheticSequences.Classes[i % 3], Features = new float[18] });
        options.ValidationSet = Keyed(Context.Data.LoadFromEnumerable(rows));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() =>
            Context.Transforms.LstmClassifier(options).Fit(Keyed(SyntheticSequences.Load(Context, 50, 1))));
        Assert.That(e!.ParamName, Is.EqualTo("ValidationSet"));
        Assert.That(e.Message, Does.Contain("'Features'"));
    }

    [Test]
    public void ValidationSetKeyedByAnotherMappingIsRefused()
    {
        var train = SyntheticSequences.Load(Context, 60, 1);
        var options = SyntheticSequences.QuickOptions();
        // Keyed by value order instead of the training mapping's first-appearance order.
        var validation = SyntheticSequences.Load(Context, 30, 2);
        options.ValidationSet = Context.Transforms.Conversion.MapValueToKey("Label",
            keyOrdinality: Microsoft.ML.Transforms.ValueToKeyMappingEstimator.KeyOrdinality.ByValue).Fit(validation).Transform(validation);
        var keyed = Keyed(train);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Context.Transforms.LstmClassifier(options).Fit(keyed));
        Assert.That(e!.ParamName, Is.EqualTo("ValidationSet"));
        Assert.That(e.Message, Does.Contain("other values"));
    }

    private static void AssertSchemaError(LstmClassifierOptions options, IDataView data, params string[] fragments)
    {
        var estimator = Context.Transforms.LstmClassifier(options);
        var atSchema = Assert.Throws<ArgumentOutOfRangeException>(() => estimator.GetOutputSchema(SchemaShapes.Of(data.Schema)));
        var atFit = Assert.Throws<ArgumentOutOfRangeException>(() => estimator.Fit(data));
        foreach (var fragment in fragments)
        {
            Assert.That(atSchema!.Message, Does.Contain(fragment));
            Assert.That(atFit!.Message, Does.Contain(fragment));
        }
    }

    private static IDataView Keyed(IDataView data) =>
        Context.Transforms.Conversion.MapValueToKey("Label").Fit(data).Transform(data);

    public sealed class VariableRow
    {
        public string Label { get; set; } = "";
        public float[] Features { get; set; } = Array.Empty<float>();
    }

    public sealed class OddRow
    {
        public string Label { get; set; } = "";

        [VectorType(18)]
        public float[] Features { get; set; } = Array.Empty<float>();
    }
}
