using System.Collections.Concurrent;
using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetLstm.Network;
using MlNetLstm.Network.Fused;
using MlNetLstm.Sequences;
using MlNetLstm.Training;
using static TorchSharp.torch;

namespace MlNetLstm.Tests;

/// <summary>
/// The fused kernel computes the gradients libtorch's LSTM computes, the same bits on any thread count,
/// and the training loop uses it where it applies.
/// </summary>
public class FusedLstmKernelTests
{
    [SetUp]
    public void RequireAvx512()
    {
        if (!FusedLstmKernel.IsSupported)
            Assert.Ignore("This CPU has no AVX-512: training uses libtorch's LSTM.");
    }

    [Test]
    public void GradientsMatchLibtorchs([Values] bool classWeights, [Values(1, 45, 64)] int rows)
    {
        var shape = new NetworkShape(InputSize: 3, HiddenSize: 32, NumberOfLayers: 1, Bidirectional: false, ClassCount: 4);
        AssertMatchesLibtorch(shape, rows, steps: 6, classWeights ? [0.5f, 2f, 1f, 3f] : null);
    }

    [Test]
    public void GradientsOfRowsOfDifferentLengthsMatchLibtorchsPackedSequences([Values] bool classWeights, [Values(45, 64)] int rows)
    {
        var shape = new NetworkShape(InputSize: 3, HiddenSize: 32, NumberOfLayers: 1, Bidirectional: false, ClassCount: 4);
        AssertMatchesLibtorch(shape, rows, steps: 7, classWeights ? [0.5f, 2f, 1f, 3f] : null, differentLengths: true);
    }

    [Test]
    public void GradientsMatchLibtorchsAtTheReferenceShape()
    {
        var shape = new NetworkShape(InputSize: 28, HiddenSize: 128, NumberOfLayers: 1, Bidirectional: false, ClassCount: 10);
        AssertMatchesLibtorch(shape, rows: 128, steps: 28, null);
    }

    [Test]
    public void GivesTheSameBitsOnAnyThreadCount([Values] bool differentLengths)
    {
        var shape = new NetworkShape(InputSize: 5, HiddenSize: 16, NumberOfLayers: 1, Bidirectional: false, ClassCount: 3);
        using var scope = NewDisposeScope();
        var (batch, labels) = Batch(shape, rows: 100, steps: 9, seed: 11, differentLengths);
        var one = FusedGradients(shape, batch, labels, null, threads: 1);
        foreach (int threads in new[] { 2, 3, 8 })
        {
            var many = FusedGradients(shape, batch, labels, null, threads);
            Assert.That(many.Loss, Is.EqualTo(one.Loss), $"{threads} threads");
            for (int i = 0; i < one.Gradients.Length; i++)
                Assert.That(many.Gradients[i].equal(one.Gradients[i]).all().item<bool>(), Is.True, $"gradient {i} on {threads} threads");
        }
    }

    [TestCase(20, 1, false, 0.0, ExpectedResult = false)] // not a multiple of 16 units
    [TestCase(32, 2, false, 0.0, ExpectedResult = false)] // stacked
    [TestCase(32, 1, true, 0.0, ExpectedResult = false)]  // bidirectional
    [TestCase(32, 1, false, 0.2, ExpectedResult = false)] // dropout on the final state
    [TestCase(32, 1, false, 0.0, ExpectedResult = true)]
    public bool AppliesOnlyToNetworksItComputesExactly(int hidden, int layers, bool bidirectional, double dropout) =>
        FusedLstmTensors.Applies(new NetworkShape(4, hidden, layers, bidirectional, 3), dropout);

    [TestCase(10, 25)] // zeros between other columns
    [TestCase(10, 40)] // zeros to the end, as h_{−1} at step 0
    public unsafe void AProductThatSkipsZeroColumnsGivesTheSameValues(int from, int to)
    {
        const int m = 16, k = 40, n = 80; // two panels of columns: 48 and 32 wide
        var random = new Random(4);
        var a = new float[m * k];
        var b = new float[k * n];
        for (int i = 0; i < a.Length; i++)
            a[i] = i % k >= from && i % k < to ? 0f : (float)(random.NextDouble() * 2 - 1);
        for (int i = 0; i < b.Length; i++)
            b[i] = (float)(random.NextDouble() * 2 - 1);
        var packed = new float[k * n];
        var all = new float[m * n];
        var skipping = new float[m * n];
        fixed (float* pa = a, pb = b, pp = packed, pAll = all, pSkipping = skipping)
        {
            Gemm.PackPanels(pb, n, k, n, pp);
            Gemm.MulRowA(m, n, k, pa, k, pp, pAll, n, accumulate: false);
            Gemm.MulRowA(m, n, k, pa, k, pp, pSkipping, n, accumulate: false, new ZeroColumns(from, to));
        }
        // Equal as floats: the same bits, but for the sign of a zero.
        Assert.That(skipping, Is.EqualTo(all));
        Assert.That(all.Count(v => v != 0), Is.GreaterThan(m * n / 2), "the products are not all zero");
    }

    [Test]
    public void RowLengthsOutsideTheBatchAreRefused()
    {
        var shape = new NetworkShape(InputSize: 2, HiddenSize: 16, NumberOfLayers: 1, Bidirectional: false, ClassCount: 3);
        using var scope = NewDisposeScope();
        var (batch, labels) = Batch(shape, rows: 8, steps: 3, seed: 1);
        using var network = Network(shape);
        using var kernel = new FusedLstmKernel(shape, threads: 1);
        long[] Lengths(long last) => [3, 3, 3, 3, 3, 3, 3, last];
        Assert.That(() => FusedLstmTensors.SetGradients(kernel, network, batch with { Lengths = Lengths(0) }, labels, null),
            Throws.TypeOf<ArgumentOutOfRangeException>().With.Message.Contains("A row of 0 steps in a batch of 3 steps"));
        Assert.That(() => FusedLstmTensors.SetGradients(kernel, network, batch with { Lengths = Lengths(4) }, labels, null),
            Throws.TypeOf<ArgumentOutOfRangeException>().With.Message.Contains("A row of 4 steps"));
        Assert.That(() => FusedLstmTensors.SetGradients(kernel, network, batch with { Lengths = [3, 3] }, labels, null),
            Throws.ArgumentException.With.Property("ParamName").EqualTo("lengths").And.Message.Contains("2 lengths for a batch of 8 rows"));
    }

    [Test]
    public void ALabelOutsideTheClassesIsRefused()
    {
        var shape = new NetworkShape(InputSize: 2, HiddenSize: 16, NumberOfLayers: 1, Bidirectional: false, ClassCount: 3);
        using var scope = NewDisposeScope();
        var (batch, _) = Batch(shape, rows: 8, steps: 3, seed: 1);
        using var network = Network(shape);
        using var kernel = new FusedLstmKernel(shape, threads: 2);
        var labels = tensor(new long[] { 0, 1, 2, 3, 0, 1, 2, 0 });
        Assert.That(() => FusedLstmTensors.SetGradients(kernel, network, batch, labels, null),
            Throws.TypeOf<ArgumentOutOfRangeException>().With.Message.Contains("label 3"));
    }

    [Test]
    public void EveryPartitionRunsOnceAndAFailureReachesTheCaller()
    {
        using var workers = new PartitionWorkers(threads: 3);
        var runs = new ConcurrentBag<(int Partition, int Thread)>();
        workers.Run(10, (partition, thread) => runs.Add((partition, thread)));
        Assert.That(runs.Select(r => r.Partition).Order(), Is.EqualTo(Enumerable.Range(0, 10)));
        Assert.That(runs.All(r => r.Thread is >= 0 and < 3), Is.True);

        Assert.That(() => workers.Run(6, (partition, _) =>
        {
            if (partition == 4)
                throw new InvalidOperationException("partition 4");
        }), Throws.InvalidOperationException.With.Message.EqualTo("partition 4"));
        int after = 0;
        workers.Run(5, (_, _) => Interlocked.Increment(ref after));
        Assert.That(after, Is.EqualTo(5), "the workers stay usable after a failure");
    }

    [Test]
    public void FitTrainsThroughTheKernelWhereItApplies([Values] bool dropout)
    {
        var mlContext = new MLContext(1);
        var log = LogCapture.Collect(mlContext, "] Training on ");
        var data = SyntheticSequences.Load(mlContext, 128, 4);
        var options = SyntheticSequences.QuickOptions();
        options.HiddenSize = 32;
        options.Dropout = dropout ? 0.2 : 0;
        var keyed = mlContext.Transforms.Conversion.MapValueToKey("Label").Fit(data).Transform(data);
        using var model = mlContext.Transforms.LstmClassifier(options).Fit(keyed);
        Assert.That(log, Has.Count.EqualTo(1));
        Assert.That(log[0].Contains("fused AVX-512 LSTM kernel", StringComparison.Ordinal), Is.EqualTo(!dropout), log[0]);
    }

    [Test]
    public void RowsOfDifferentLengthsTrainThroughTheKernel()
    {
        var mlContext = new MLContext(1);
        var log = LogCapture.Collect(mlContext, "] Training on ");
        var data = VariableSequences.Keyer(mlContext).Transform(mlContext.Data.LoadFromEnumerable(VariableSequences.Make(100, 1)));
        var options = VariableSequences.Options();
        options.TrainingSamples = 64;
        using var model = mlContext.Transforms.LstmClassifier(options).Fit(data);
        Assert.That(log, Has.Count.EqualTo(1));
        Assert.That(log[0], Does.Contain("fused AVX-512 LSTM kernel"));
    }

    [Test]
    public void RowsOfDifferentLengthsTooLongForTheKernelsWorkspaceTrainAsPackedSequences()
    {
        // At 16 units a partition needs 16 KiB a step: one row of 100 steps asks 1.6 MiB, over a limit of 1 MiB.
        var mlContext = new MLContext(1);
        var log = LogCapture.Collect(mlContext, "] Training on ", "] Rows of different lengths");
        var rows = VariableSequences.Make(15, 1).Concat(VariableSequences.Make(1, 2, minSteps: 100, maxSteps: 100));
        var data = VariableSequences.Keyer(mlContext).Transform(mlContext.Data.LoadFromEnumerable(rows));
        var options = VariableSequences.Options();
        options.TrainingSamples = 16;
        options.FusedWorkspaceLimit = 1 << 20;
        using var model = mlContext.Transforms.LstmClassifier(options).Fit(data);
        Assert.That(log, Has.Count.EqualTo(2), string.Join("\n", log));
        Assert.That(log[0], Does.Contain("up to 100 steps").And.Contain("would need 1.6 MiB").And.Contain("at most 1.0 MiB"));
        Assert.That(log[1], Does.Contain("libtorch thread"));

        // The default limit: 1 GiB, for every thread's workspace together.
        var shape = new NetworkShape(InputSize: 2, HiddenSize: 512, NumberOfLayers: 1, Bidirectional: false, ClassCount: 3);
        Assert.That(FusedLstmKernel.WorkspaceBytes(shape, 2_000), Is.EqualTo(2_001L * 32 * 4 * (16 + 512 + 4 * 512 + 2 * 512)));
        Assert.That(FusedLstmTensors.FitsRowsOfDifferentLengths(shape, 2_300, threads: 1), Is.True);
        Assert.That(FusedLstmTensors.FitsRowsOfDifferentLengths(shape, 2_400, threads: 1), Is.False);
        Assert.That(FusedLstmTensors.FitsRowsOfDifferentLengths(shape, 2_000, threads: 2), Is.False, "every thread has a workspace");
    }

    [Test]
    public void TheKernelTrainsOnOneThreadPerCoreWithoutATimedChoice()
    {
        if (!FusedLstmKernel.IsSupported || Environment.ProcessorCount < 2)
            Assert.Ignore("needs the fused kernel and two cores");
        var mlContext = new MLContext(1);
        var log = LogCapture.Collect(mlContext, "] Training on ", "] Threads: ");
        var data = SyntheticSequences.Load(mlContext, 256, 4);
        var options = SyntheticSequences.QuickOptions();
        options.HiddenSize = 32;
        // Four partitions per batch: through libtorch a step this size would have the timed choice.
        options.BatchSize = 128;
        options.TrainingSamples = 512;
        var keyed = mlContext.Transforms.Conversion.MapValueToKey("Label").Fit(data).Transform(data);
        using var model = mlContext.Transforms.LstmClassifier(options).Fit(keyed);
        int threads = MlNetLstm.Network.TorchRuntime.FusedTrainingThreads(null, options.BatchSize);
        Assert.That(threads, Is.GreaterThan(1), "libtorch's default is one thread per core");
        Assert.That(log, Is.EqualTo(new[] { $"[Source=LstmClassifierEstimator; Training, Kind=Info] Training on {threads} thread(s) with the fused AVX-512 LSTM kernel." }));
    }

    [TestCase(3, 32, 4, 45, 6)]
    [TestCase(16, 16, 3, 20, 5)] // inputs fill whole vectors: the 1 starts the next
    [TestCase(40, 32, 5, 20, 4)] // two vectors of inputs and a tail
    [TestCase(28, 128, 10, 600, 28)] // the reference shape, more rows than one block of the kernel
    public void ScoresMatchLibtorchsForward(int inputs, int hidden, int classes, int rows, int steps)
    {
        var shape = new NetworkShape(inputs, hidden, NumberOfLayers: 1, Bidirectional: false, classes);
        using var scope = NewDisposeScope();
        var (batch, _) = Batch(shape, rows, steps, seed: 9);
        using var network = Network(shape);
        network.eval();
        using var kernel = FusedLstmKernel.ForScoring(shape, FusedLstmTensors.WeightsOf(network));
        var logits = new float[rows * classes];
        kernel.Score(batch.Values.FloatSpan(), rows, steps, null, logits);

        Tensor expected;
        using (inference_mode())
            expected = network.call(batch);
        var difference = (tensor(logits).view(rows, classes) - expected).abs().max().item<float>();
        Assert.That(difference, Is.LessThan(1e-5), "largest difference from libtorch's logits");
    }

    [Test]
    public void AKernelMadeForScoringRefusesToTrain()
    {
        var shape = new NetworkShape(InputSize: 2, HiddenSize: 16, NumberOfLayers: 1, Bidirectional: false, ClassCount: 3);
        using var scope = NewDisposeScope();
        var (batch, labels) = Batch(shape, rows: 8, steps: 3, seed: 1);
        using var network = Network(shape);
        using var kernel = FusedLstmKernel.ForScoring(shape, FusedLstmTensors.WeightsOf(network));
        Assert.That(() => FusedLstmTensors.SetGradients(kernel, network, batch, labels, null),
            Throws.InvalidOperationException.With.Message.Contains("made for scoring"));
    }

    [Test]
    public void ARowsScoresDoNotDependOnTheRowsScoredWithIt()
    {
        var shape = new NetworkShape(InputSize: 7, HiddenSize: 16, NumberOfLayers: 1, Bidirectional: false, ClassCount: 3);
        using var scope = NewDisposeScope();
        var (batch, _) = Batch(shape, rows: 300, steps: 5, seed: 2);
        using var network = Network(shape);
        using var kernel = FusedLstmKernel.ForScoring(shape, FusedLstmTensors.WeightsOf(network));
        var values = batch.Values.FloatSpan();
        var together = new float[300 * 3];
        kernel.Score(values, 300, 5, null, together);
        foreach (int row in new[] { 0, 7, 8, 255, 256, 299 })
        {
            var alone = new float[3];
            kernel.Score(values.Slice(row * 5 * 7, 5 * 7), 1, 5, null, alone);
            Assert.That(alone, Is.EqualTo(together.AsSpan(row * 3, 3).ToArray()), $"row {row}");
        }
    }

    [Test]
    public void RowsOfDifferentLengthsScoreAsEachAloneAndAsLibtorchPacksThem()
    {
        var shape = new NetworkShape(InputSize: 3, HiddenSize: 16, NumberOfLayers: 1, Bidirectional: false, ClassCount: 4);
        using var scope = NewDisposeScope();
        long[] lengths = [6, 1, 4, 6, 2, 5, 3, 6, 1, 4];
        var (batch, _) = Batch(shape, rows: lengths.Length, steps: 6, seed: 4);
        // Zero after each row's length, as SequenceBatch pads.
        for (int r = 0; r < lengths.Length; r++)
            batch.Values[r].narrow(0, lengths[r], 6 - lengths[r]).zero_();
        using var network = Network(shape);
        network.eval();
        using var kernel = FusedLstmKernel.ForScoring(shape, FusedLstmTensors.WeightsOf(network));
        var values = batch.Values.FloatSpan();
        var together = new float[lengths.Length * 4];
        kernel.Score(values, lengths.Length, 6, lengths, together);
        for (int r = 0; r < lengths.Length; r++)
        {
            var alone = new float[4];
            kernel.Score(values.Slice(r * 6 * 3, (int)lengths[r] * 3), 1, (int)lengths[r], null, alone);
            Assert.That(alone, Is.EqualTo(together.AsSpan(r * 4, 4).ToArray()), $"row {r} of {lengths[r]} steps");
        }
        Tensor expected;
        using (inference_mode())
            expected = network.call(new SequenceBatch(batch.Values, lengths));
        Assert.That((tensor(together).view(lengths.Length, 4) - expected).abs().max().item<float>(), Is.LessThan(1e-5));
    }

    [Test]
    public void ANotANumberStaysOne()
    {
        var shape = new NetworkShape(InputSize: 2, HiddenSize: 16, NumberOfLayers: 1, Bidirectional: false, ClassCount: 3);
        using var scope = NewDisposeScope();
        var (batch, _) = Batch(shape, rows: 3, steps: 4, seed: 6);
        batch.Values[1, 2, 0] = float.NaN;
        using var network = Network(shape);
        using var kernel = FusedLstmKernel.ForScoring(shape, FusedLstmTensors.WeightsOf(network));
        var logits = new float[9];
        kernel.Score(batch.Values.FloatSpan(), 3, 4, null, logits);
        Assert.That(logits.Skip(3).Take(3).All(float.IsNaN), Is.True, "the row with a NaN");
        Assert.That(logits.Take(3).Concat(logits.Skip(6)).All(float.IsFinite), Is.True, "the other rows");
    }

    [Test]
    public void TheInterleavedNonlinearitiesGiveTheBitsOfTheSeparateOnes()
    {
        // Special values, the clamp's edges, and a spread of ordinary ones.
        var special = new[] { float.NaN, 0f, -0f, float.PositiveInfinity, float.NegativeInfinity, 80f, -80f, 40f, -40f, 1e-30f, -1e-30f, float.Epsilon };
        var random = new Random(5);
        var values = special.Concat(Enumerable.Range(0, 16 * 64 - special.Length).Select(_ => (float)((random.NextDouble() - 0.5) * 8))).ToArray();
        for (int i = 0; i < values.Length; i += 16)
        {
            var v = System.Runtime.Intrinsics.Vector512.Create(values.AsSpan(i, 16));
            var rotated = System.Runtime.Intrinsics.Vector512.Create(values.AsSpan(i, 16).ToArray().Reverse().ToArray());
            var (x0, x1, x2, x3, t) = (v, rotated, -v, v * 0.5f, rotated);
            VectorMath.Sigmoid4Tanh(ref x0, ref x1, ref x2, ref x3, ref t);
            var expectedTanh = VectorMath.Tanh(rotated);
            for (int lane = 0; lane < 16; lane++)
            {
                Assert.That(BitConverter.SingleToInt32Bits(t[lane]), Is.EqualTo(BitConverter.SingleToInt32Bits(expectedTanh[lane])), $"tanh({rotated[lane]})");
                // sigmoid(v) = 1 / (1 + e^(−v)) from the same exp, NaN for NaN, within [0, 1] otherwise.
                float expected = 1f / (1f + MathF.Exp(-Math.Clamp(v[lane], -80f, 80f)));
                if (float.IsNaN(v[lane]))
                    Assert.That(float.IsNaN(x0[lane]), Is.True, "NaN stays NaN");
                else
                    Assert.That(x0[lane], Is.EqualTo(expected).Within(2e-7f).And.InRange(0f, 1f), $"sigmoid({v[lane]})");
            }
        }
    }

    [Test]
    public void TheLossStaysFiniteFarFromTheLargestLogit()
    {
        var shape = new NetworkShape(InputSize: 3, HiddenSize: 16, NumberOfLayers: 1, Bidirectional: false, ClassCount: 4);
        using var scope = NewDisposeScope();
        var (batch, labels) = Batch(shape, rows: 8, steps: 3, seed: 8);
        labels.fill_(1);
        using var network = Network(shape);
        using (no_grad())
            network.named_parameters().Single(p => p.name == "output.bias").parameter.copy_(tensor(new[] { 300f, 0, 0, 0 }));
        var (expected, _) = LstmTrainingLoop.AccumulateGradients(network, batch, labels, null, 8, measure: true);
        using var kernel = new FusedLstmKernel(shape, threads: 2);
        var (loss, _) = FusedLstmTensors.SetGradients(kernel, network, batch, labels, null);
        Assert.That(expected, Is.GreaterThan(250), "libtorch's loss");
        Assert.That(loss, Is.EqualTo(expected).Within(1e-4).Percent);
    }

    [Test]
    public void OneKernelServesBatchesOfGrowingSizeAndLengthOnChangingThreads([Values] bool differentLengths)
    {
        var shape = new NetworkShape(InputSize: 4, HiddenSize: 16, NumberOfLayers: 1, Bidirectional: false, ClassCount: 3);
        using var scope = NewDisposeScope();
        using var network = Network(shape);
        using var kernel = new FusedLstmKernel(shape, threads: 1);
        foreach (var (rows, steps, threads) in new[] { (20, 3, 1), (100, 7, 2), (40, 5, 3), (130, 9, 2) })
        {
            var (batch, labels) = Batch(shape, rows, steps, seed: rows, differentLengths);
            kernel.Threads = threads;
            var (loss, _) = FusedLstmTensors.SetGradients(kernel, network, batch, labels, null);
            var reused = network.parameters().Select(p => p.grad!.clone()).ToArray();
            var fresh = FusedGradients(shape, batch, labels, null, threads: 1);
            Assert.That(loss, Is.EqualTo(fresh.Loss), $"{rows} rows of {steps} steps");
            for (int i = 0; i < reused.Length; i++)
                Assert.That(reused[i].equal(fresh.Gradients[i]).all().item<bool>(), Is.True, $"gradient {i}, {rows} rows of {steps} steps");
        }
    }

    [Test]
    public void AFusedModelScoresEachVariableLengthRowAsInAnyBatch()
    {
        var mlContext = new MLContext(1);
        var rows = VariableSequences.Make(60, 5);
        var data = VariableSequences.Keyer(mlContext).Transform(mlContext.Data.LoadFromEnumerable(rows));
        var options = VariableSequences.Options();
        options.HiddenSize = 16;
        options.TrainingSamples = 320;
        using var model = mlContext.Transforms.LstmClassifier(options).Fit(data);
        var together = model.Transform(data).GetColumn<float[]>("Score").ToArray();
        var engine = mlContext.Model.CreatePredictionEngine<VariableRow, ScoredRow>(
            VariableSequences.Keyer(mlContext).Append(model), ignoreMissingColumns: true);
        for (int r = 0; r < rows.Count; r++)
            Assert.That(engine.Predict(rows[r]).Score, Is.EqualTo(together[r]), $"row {r} of {rows[r].Features.Length} values");
    }

    public sealed class ScoredRow
    {
        public float[] Score { get; set; } = [];
    }

    private static void AssertMatchesLibtorch(NetworkShape shape, int rows, int steps, float[]? classWeights, bool differentLengths = false)
    {
        using var scope = NewDisposeScope();
        var (batch, labels) = Batch(shape, rows, steps, seed: 5, differentLengths);
        var weights = classWeights is null ? null : tensor(classWeights);
        using var network = Network(shape);
        var (libtorchLoss, libtorchCorrect) = LstmTrainingLoop.AccumulateGradients(network, batch, labels, weights, rows, measure: true);
        var expected = network.parameters().Select(p => p.grad!.clone()).ToArray();

        var fused = FusedGradients(shape, batch, labels, weights, threads: 2);

        Assert.That(fused.Loss, Is.EqualTo(libtorchLoss).Within(1e-5));
        Assert.That(fused.Correct, Is.EqualTo(libtorchCorrect));
        for (int i = 0; i < expected.Length; i++)
        {
            double scale = expected[i].abs().max().item<float>();
            double difference = (fused.Gradients[i] - expected[i]).abs().max().item<float>();
            Assert.That(difference, Is.LessThanOrEqualTo(1e-4 * scale + 1e-7), $"gradient {i}: largest difference {difference:G3} of largest value {scale:G3}");
        }
    }

    private static (double Loss, long Correct, Tensor[] Gradients) FusedGradients(
        NetworkShape shape, SequenceBatch batch, Tensor labels, Tensor? weights, int threads)
    {
        using var network = Network(shape);
        using var kernel = new FusedLstmKernel(shape, threads);
        // Gradients are set, not added: what was there before does not count.
        foreach (var parameter in network.parameters())
            parameter.grad = full_like(parameter, 7f);
        var (loss, correct) = FusedLstmTensors.SetGradients(kernel, network, batch, labels, weights);
        return (loss, correct, network.parameters().Select(p => p.grad!.clone()).ToArray());
    }

    /// <summary>
    /// Random rows of <paramref name="steps"/> steps, or of 1 to that many, zero-padded: the first row at
    /// full length, and the rows after the kernel's first partition at most two steps short of it, so that
    /// a partition runs fewer steps than its batch.
    /// </summary>
    private static (SequenceBatch Batch, Tensor Labels) Batch(NetworkShape shape, int rows, int steps, int seed, bool differentLengths = false)
    {
        using var generator = new Generator((ulong)seed);
        var values = randn(new long[] { rows, steps, shape.InputSize }, generator: generator);
        var labels = randint(0, shape.ClassCount, new long[] { rows }, generator: generator);
        if (!differentLengths)
            return (new SequenceBatch(values, null), labels);
        var random = new Random(seed);
        var lengths = Enumerable.Range(0, rows)
            .Select(r => r == 0 ? steps : (long)random.Next(1, (r < FusedLstmKernel.PartitionRows ? steps : steps - 2) + 1)).ToArray();
        for (int r = 0; r < rows; r++)
            values[r].narrow(0, lengths[r], steps - lengths[r]).zero_();
        return (new SequenceBatch(values, lengths), labels);
    }

    /// <summary>A network as training starts it, but with both LSTM biases random (training starts b_hh at zero), so each counts.</summary>
    private static LstmClassifierNetwork Network(NetworkShape shape)
    {
        var network = new LstmClassifierNetwork(shape);
        using var generator = new Generator(3);
        network.InitializeWeights(generator, forgetBias: 1.0);
        using (no_grad())
        {
            foreach (var (name, parameter) in network.named_parameters())
            {
                if (name.Contains("bias_"))
                    parameter.add_(randn(parameter.shape, generator: generator) * 0.1);
            }
        }
        return network;
    }
}
