using System.IO.Compression;
using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetLstm.Persistence;
using static TorchSharp.torch;

namespace MlNetLstm.Tests;

/// <summary>
/// What a user saves always loads again: models created inside a caller's TorchSharp dispose scope, saves
/// racing Dispose, label values that do not match the classes, and files that do not read back.
/// </summary>
public class SavedModelIntegrityTests : TempFolderTest
{
    [Test]
    public void ModelFittedInsideACallersDisposeScopeSavesAFileThatLoads()
    {
        var mlContext = new MLContext(seed: 1);
        var data = SyntheticSequences.Load(mlContext, 200, 1);
        ITransformer model;
        using (NewDisposeScope())
            model = Pipeline(mlContext).Fit(data);

        var path = Path.Combine(Folder, "model.zip");
        mlContext.Model.Save(model, data.Schema, path);
        var loaded = new MLContext().Model.Load(path, out _);
        Assert.That(ScoresOf(loaded, data), Is.EqualTo(ScoresOf(model, data)));
    }

    [Test]
    public void ModelLoadedInsideACallersDisposeScopeSavesAgainOverAGoodFile()
    {
        var path = Path.Combine(Folder, "model.zip");
        TrainedModel.Context.Model.Save(TrainedModel.Model, TrainedModel.TestData.Schema, path);
        ITransformer loaded;
        using (NewDisposeScope())
            loaded = new MLContext().Model.Load(path, out _);

        new MLContext().Model.SaveAtomically(loaded, TrainedModel.TestData.Schema, path);
        var reloaded = new MLContext().Model.Load(path, out _);
        Assert.That(ScoresOf(reloaded, TrainedModel.TestData), Is.EqualTo(ScoresOf(TrainedModel.Model, TrainedModel.TestData)));
    }

    [Test]
    public void SaveRefusesAModelWhoseWeightsWereFreed()
    {
        var mlContext = new MLContext(seed: 1);
        var data = SyntheticSequences.Load(mlContext, 50, 1);
        var model = (TransformerChain<LstmClassifierTransformer>)Pipeline(mlContext, trainingSamples: 32).Fit(data);
        // What a caller's ended dispose scope used to do to the network's weights.
        model.LastTransformer.Model.Network.state_dict()["layers.0.weight_ih_l0"].Dispose();

        var path = Path.Combine(Folder, "model.zip");
        var e = Assert.Throws<InvalidOperationException>(() => mlContext.Model.Save(model, data.Schema, path));
        Assert.That(e!.Message, Does.Contain("layers.0.weight_ih_l0").And.Contain("missing or was freed"));
    }

    [Test]
    public void AtomicSaveKeepsTheOldFileWhenTheNewOneDoesNotReadBack()
    {
        var path = Path.Combine(Folder, "model.zip");
        TrainedModel.Context.Model.Save(TrainedModel.Model, TrainedModel.TestData.Schema, path);
        var good = File.ReadAllBytes(path);

        // A fault between writing and renaming: one weight byte changes in the classifier's entry.
        void Damage(string written) => ZipEntries.Rewrite(written, name => name.EndsWith(ModelZipEntry), content =>
        {
            content[content.Length / 2] ^= 0x40;
            return content;
        });
        var e = Assert.Throws<InvalidOperationException>(() => ModelFileCatalog.SaveAtomically(
            TrainedModel.Context.Model, TrainedModel.Model, TrainedModel.TestData.Schema, path, Damage));

        Assert.That(e!.Message, Does.Contain("does not read back").And.Contain("checksum"));
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(good));
        Assert.That(Directory.GetFiles(Folder), Is.EqualTo(new[] { path }), "no temporary file is left behind");
    }

    [Test]
    public void SaveWaitsForAPendingDisposeAndThenRefuses()
    {
        var mlContext = new MLContext(seed: 1);
        var data = SyntheticSequences.Load(mlContext, 50, 1);
        var chain = (TransformerChain<LstmClassifierTransformer>)Pipeline(mlContext, trainingSamples: 32).Fit(data);
        var classifier = chain.LastTransformer;
        var scorer = classifier.Scorer;
        var path = Path.Combine(Folder, "model.zip");

        // A forward pass in flight holds the network; Dispose waits for it.
        var inFlight = scorer.Use();
        var disposing = Task.Run(classifier.Dispose);
        Assert.That(SpinWait.SpinUntil(() => scorer.IsDisposePending, TimeSpan.FromMinutes(1)), "Dispose is waiting");

        var saving = Task.Run(() => mlContext.Model.Save(chain, data.Schema, path));
        Assert.That(SpinWait.SpinUntil(() => scorer.WaitingLeases > 0 || saving.IsCompleted, TimeSpan.FromMinutes(1)));
        Assert.That(saving.IsCompleted, Is.False, "the save queues behind the pending Dispose instead of reading the weights");

        inFlight.Dispose();
        disposing.Wait();
        var e = Assert.Throws<AggregateException>(() => saving.Wait());
        Assert.That(e!.InnerException, Is.TypeOf<ObjectDisposedException>());
    }

    [Test]
    public void TrainingDoesNotLeaveTheNetworkHoldingTheDisposedDropoutGenerator()
    {
        var mlContext = new MLContext(seed: 1);
        var options = SyntheticSequences.QuickOptions();
        options.TrainingSamples = 64;
        options.Dropout = 0.3;
        var chain = (TransformerChain<LstmClassifierTransformer>)mlContext.Transforms.Conversion.MapValueToKey("Label")
            .Append(mlContext.Transforms.LstmClassifier(options)).Fit(SyntheticSequences.Load(mlContext, 50, 1));
        Assert.That(chain.LastTransformer.Model.Network.DropoutGenerator, Is.Null);
    }

    [Test]
    public void LabelValuesThatDoNotMatchTheClassCountAreRefusedAtFit()
    {
        var mlContext = new MLContext(seed: 1);
        var rows = SyntheticSequences.Make(30, 1).Select((r, i) => new KeyRow { Label = (uint)(i % 3) + 1, Features = r.Features });
        var definition = SchemaDefinition.Create(typeof(KeyRow));
        definition["Label"].ColumnType = new KeyDataViewType(typeof(uint), 3);
        // Two key values for three keys.
        var keyValues = new VBuffer<ReadOnlyMemory<char>>(2, new[] { "a".AsMemory(), "b".AsMemory() });
        definition["Label"].AddAnnotation("KeyValues", keyValues, new VectorDataViewType(TextDataViewType.Instance, 2));
        var data = mlContext.Data.LoadFromEnumerable(rows, definition);

        var e = Assert.Throws<ArgumentOutOfRangeException>(() => mlContext.Transforms.LstmClassifier(SyntheticSequences.QuickOptions()).Fit(data));
        Assert.That(e!.Message, Does.Contain("'Label'").And.Contain("3 keys but 2 key values"));
    }

    [Test]
    public void LabelValuesThatDoNotMatchTheClassCountAreRefusedAtSave()
    {
        var classifier = ((IEnumerable<ITransformer>)TrainedModel.Model).OfType<LstmClassifierTransformer>().Single();
        var twoValues = new DataViewSchema.Annotations.Builder();
        twoValues.Add("KeyValues", new VectorDataViewType(TextDataViewType.Instance, 2),
            (ref VBuffer<ReadOnlyMemory<char>> v) => v = new VBuffer<ReadOnlyMemory<char>>(2, new[] { "a".AsMemory(), "b".AsMemory() }));
        var schema = new DataViewSchema.Builder();
        schema.AddColumn("Label", new KeyDataViewType(typeof(uint), 3), twoValues.ToAnnotations());
        var mismatched = classifier.Model with { LabelValues = Schema.LabelKeyValues.FromLabelColumn(schema.ToSchema()["Label"]) };

        var e = Assert.Throws<InvalidOperationException>(() => LstmModelFormat.Write(Stream.Null, mismatched));
        Assert.That(e!.Message, Does.Contain("2 label values for 3 classes"));
    }

    private const string ModelZipEntry = "LstmClassifier.bin";

    private static IEstimator<TransformerChain<LstmClassifierTransformer>> Pipeline(MLContext mlContext, long trainingSamples = 640)
    {
        var options = SyntheticSequences.QuickOptions();
        options.TrainingSamples = trainingSamples;
        return mlContext.Transforms.Conversion.MapValueToKey("Label").Append(mlContext.Transforms.LstmClassifier(options));
    }

    private static string[] ScoresOf(ITransformer model, IDataView data) =>
        model.Transform(data).GetColumn<float[]>("Score").Select(ScoreText.Format).ToArray();

    public sealed class KeyRow
    {
        public uint Label { get; set; }

        [VectorType(SequenceRow.Length)]
        public float[] Features { get; set; } = new float[SequenceRow.Length];
    }
}
