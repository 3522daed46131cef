using MlNetLstm.Network;
using MlNetLstm.Sequences;
using MlNetLstm.Training;
using static TorchSharp.torch;

namespace MlNetLstm.Tests;

/// <summary>
/// A training batch whose work buffers would be too large to reuse goes through the network in equal
/// passes; the gradients they add up to are the whole batch's.
/// </summary>
public class TrainingPassesTests
{
    private static readonly NetworkShape Mnist = new(InputSize: 28, HiddenSize: 128, NumberOfLayers: 1, Bidirectional: false, ClassCount: 10);

    [TestCase(128, 28, ExpectedResult = 64)] // the reference run: 38.5 MB buffers become 19.3 MB
    [TestCase(64, 28, ExpectedResult = 64)] // reusable already
    [TestCase(256, 28, ExpectedResult = 86)] // three passes of at most 97 rows
    [TestCase(128, 500, ExpectedResult = 128)] // no pass of 32 rows or more would fit: left whole
    [TestCase(1, 100_000, ExpectedResult = 1)]
    public int RowsPerPassKeepsEachPassesBuffersReusable(int rows, long steps) => TrainingPasses.RowsPerPass(rows, steps, Mnist);

    [Test]
    public void PackedBatchesAreNotSplitForTheyTrainWithoutOneDnnBuffers()
    {
        using var scope = NewDisposeScope();
        var values = zeros(128, 28, 28);
        Assert.That(TrainingPasses.RowsPerPass(new SequenceBatch(values, null), Mnist), Is.EqualTo(64));
        Assert.That(TrainingPasses.RowsPerPass(new SequenceBatch(values, Enumerable.Range(0, 128).Select(i => i == 0 ? 28L : 27L).ToArray()), Mnist), Is.EqualTo(128));
    }

    [Test]
    public void ABatchSplitIntoPassesGetsTheWholeBatchsGradients(
        [Values] bool classWeights, [Values] bool variableLengths)
    {
        var shape = new NetworkShape(InputSize: 3, HiddenSize: 8, NumberOfLayers: 2, Bidirectional: true, ClassCount: 4);
        using var scope = NewDisposeScope();
        using var generator = new Generator(7);
        var batch = new SequenceBatch(randn(new long[] { 12, 6, 3 }, generator: generator),
            variableLengths ? [6, 2, 5, 6, 1, 3, 4, 6, 2, 5, 6, 3] : null);
        var labels = tensor(new long[] { 0, 1, 2, 3, 1, 1, 2, 0, 3, 3, 1, 2 });
        var weights = classWeights ? tensor(new[] { 0.5f, 2f, 1f, 3f }) : null;

        var (wholeLoss, wholeCorrect, wholeGradients) = Gradients(shape, batch, labels, weights, rowsPerPass: 12);
        var (splitLoss, splitCorrect, splitGradients) = Gradients(shape, batch, labels, weights, rowsPerPass: 5);

        Assert.That(splitLoss, Is.EqualTo(wholeLoss).Within(1e-5));
        Assert.That(splitCorrect, Is.EqualTo(wholeCorrect));
        for (int i = 0; i < wholeGradients.Length; i++)
            Assert.That(splitGradients[i].allclose(wholeGradients[i], rtol: 1e-4, atol: 1e-6), Is.True, $"gradient {i}");
        // and the loss is the batch's mean cross-entropy, as one pass of libtorch's computes it
        using var network = Network(shape);
        float expected = nn.functional.cross_entropy(network.call(batch), labels, weight: weights).item<float>();
        Assert.That(wholeLoss, Is.EqualTo(expected).Within(1e-5));
    }

    private static LstmClassifierNetwork Network(NetworkShape shape)
    {
        var network = new LstmClassifierNetwork(shape);
        using var generator = new Generator(3);
        network.InitializeWeights(generator, forgetBias: 1.0);
        return network;
    }

    private static (double Loss, long Correct, Tensor[] Gradients) Gradients(
        NetworkShape shape, SequenceBatch batch, Tensor labels, Tensor? weights, int rowsPerPass)
    {
        using var network = Network(shape);
        var (loss, correct) = LstmTrainingLoop.AccumulateGradients(network, batch, labels, weights, rowsPerPass, measure: true);
        return (loss, correct, network.parameters().Select(p => p.grad!.clone()).ToArray());
    }
}
