using System.Diagnostics;
using MlNetLstm.MlNetInternals;
using MlNetLstm.Network;
using TorchSharp;
using static TorchSharp.torch;

namespace MlNetLstm.Training;

/// <summary>
/// Minibatch training as the reference does it: Adam on the softmax cross-entropy of the last step's
/// logits, a fixed budget of samples, a progress line every display step.
/// </summary>
internal static class LstmTrainingLoop
{
    private const int EvaluationBatchSize = 1024;

    public static LstmClassifierNetwork Train(
        HostChannel host, LstmClassifierOptions options, NetworkShape shape,
        TrainingSet train, TrainingSet? validation, int seed)
    {
        using var initGenerator = new Generator((ulong)seed);
        // Dropout masks come from a generator of our own so that concurrent training in one process
        // stays repeatable. The network only borrows it while training: it is disposed at the end.
        using var dropoutGenerator = new Generator((ulong)seed + 1);
        var network = new LstmClassifierNetwork(shape, options.Dropout) { DropoutGenerator = dropoutGenerator };
        try
        {
            network.InitializeWeights(initGenerator, options.ForgetBias);
            RunBatches(host, options, network, train, validation, seed);
            network.eval();
            return network;
        }
        catch
        {
            network.Dispose();
            throw;
        }
        finally
        {
            network.DropoutGenerator = null;
        }
    }

    private static void RunBatches(
        HostChannel host, LstmClassifierOptions options, LstmClassifierNetwork network,
        TrainingSet train, TrainingSet? validation, int seed)
    {
        int batchSize = options.BatchSize;
        // Whole batches covering the budget, counted without overflow: long.MaxValue runs until cancelled.
        long totalBatches = options.TrainingSamples / batchSize + (options.TrainingSamples % batchSize == 0 ? 0 : 1);
        var order = new SampleOrder(train.Count, seed);
        var indices = new long[batchSize];
        var clock = Stopwatch.StartNew();

        network.train();
        using var optimizer = optim.Adam(network.parameters(), options.LearningRate);
        for (long batch = 1; batch <= totalBatches; batch++)
        {
            host.CheckAlive();
            bool report = batch % options.DisplayStep == 0 || batch == totalBatches;
            double batchLoss = double.NaN, batchAccuracy = double.NaN;
            using (var scope = NewDisposeScope())
            {
                order.Fill(indices);
                var (sequences, labels) = train.Gather(indices);
                var logits = network.call(sequences);
                var loss = nn.functional.cross_entropy(logits, labels);
                optimizer.zero_grad();
                loss.backward();
                optimizer.step();
                if (report)
                {
                    batchLoss = loss.item<float>();
                    batchAccuracy = logits.argmax(1).eq(labels).sum().item<long>() / (double)batchSize;
                }
            }
            if (!report)
                continue;
            // Outside the batch's dispose scope: the receiver may use TorchSharp itself.
            (double Loss, double Accuracy)? held = validation is null ? null : Evaluate(network, validation);
            long seen = batch > long.MaxValue / batchSize ? long.MaxValue : batch * batchSize;
            var progress = new LstmTrainingProgress(batch, totalBatches, seen, seen / (double)train.Count,
                batchLoss, batchAccuracy, held?.Loss, held?.Accuracy, clock.Elapsed);
            host.Info(progress.ToString());
            options.Progress?.Report(progress);
        }
        host.Info(FormattableString.Invariant(
            $"Optimization finished: {totalBatches} batches, {totalBatches * batchSize} samples in {clock.Elapsed.TotalSeconds:F1} s."));
    }

    /// <summary>Mean cross-entropy and accuracy over a whole set, without gradients or dropout.</summary>
    public static (double Loss, double Accuracy) Evaluate(LstmClassifierNetwork network, TrainingSet data)
    {
        bool wasTraining = network.training;
        network.eval();
        try
        {
            using var inference = inference_mode();
            double lossSum = 0;
            long correct = 0;
            var rows = new long[EvaluationBatchSize];
            for (int start = 0; start < data.Count; start += EvaluationBatchSize)
            {
                using var scope = NewDisposeScope();
                int length = Math.Min(EvaluationBatchSize, data.Count - start);
                for (int i = 0; i < length; i++)
                    rows[i] = start + i;
                var (sequences, labels) = data.Gather(rows.AsSpan(0, length));
                var logits = network.call(sequences);
                lossSum += nn.functional.cross_entropy(logits, labels, reduction: nn.Reduction.Sum).item<float>();
                correct += logits.argmax(1).eq(labels).sum().item<long>();
            }
            return data.Count == 0 ? (double.NaN, double.NaN) : (lossSum / data.Count, correct / (double)data.Count);
        }
        finally
        {
            network.train(wasTraining);
        }
    }
}
