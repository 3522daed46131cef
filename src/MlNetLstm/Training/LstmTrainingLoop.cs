using System.Diagnostics;
using MlNetLstm.MlNetInternals;
using MlNetLstm.Network;
using MlNetLstm.Network.Fused;
using MlNetLstm.Sequences;
using TorchSharp;
using static TorchSharp.torch;

namespace MlNetLstm.Training;

/// <summary>
/// Minibatch training as the reference does it — Adam on the softmax cross-entropy of the final hidden
/// state's logits, a budget of samples, a progress line every display step — plus what stops it at its
/// best: epochs, validation with the best weights kept, early stopping, a learning rate reduced on
/// plateaus, gradient clipping and class weights.
/// </summary>
internal static class LstmTrainingLoop
{
    private const int EvaluationBatchSize = 1024;

    public static (LstmClassifierNetwork Network, LstmTrainingSummary Summary) Train(
        HostChannel host, LstmClassifierOptions options, NetworkShape shape,
        TrainingRows train, TrainingRows? validation, long skippedRows, int seed, TrainingThreadTuner? threadTuner,
        FusedLstmKernel? kernel = null, bool fusedScoring = false)
    {
        using var initGenerator = new Generator((ulong)seed);
        // Dropout masks come from a generator of our own so that concurrent training in one process
        // stays repeatable. The network only borrows it while training: it is disposed at the end.
        using var dropoutGenerator = new Generator((ulong)seed + 1);
        var network = new LstmClassifierNetwork(shape, options.Dropout) { DropoutGenerator = dropoutGenerator };
        try
        {
            network.InitializeWeights(initGenerator, options.ForgetBias);
            var run = new Run(host, options, network, train, validation, seed, threadTuner, kernel, fusedScoring);
            var summary = run.Execute(skippedRows);
            network.eval();
            return (network, summary);
        }
        catch
        {
            network.Dispose();
            throw;
        }
        finally
        {
            network.DropoutGenerator = null;
            threadTuner?.Finish();
        }
    }

    /// <summary>
    /// Adds the gradients of the batch's mean cross-entropy (weighted by class when
    /// <paramref name="weights"/> is given) to the network's, <paramref name="rowsPerPass"/> rows at a
    /// time: each pass adds its share, so the result is the whole batch's. Returns the loss and the rows
    /// predicted right when <paramref name="measure"/> is set.
    /// </summary>
    internal static (double Loss, long Correct) AccumulateGradients(
        LstmClassifierNetwork network, SequenceBatch sequences, Tensor labels, Tensor? weights, int rowsPerPass, bool measure)
    {
        using var scope = NewDisposeScope();
        int rows = sequences.Rows;
        // One pass computes the mean as libtorch does, so unsplit batches train exactly as before passes existed.
        var whole = rowsPerPass >= rows ? null : weights is null ? tensor((float)rows) : weights.index_select(0, labels).sum();
        double loss = 0;
        long correct = 0;
        for (int start = 0; start < rows; start += rowsPerPass)
        {
            // Each pass's tensors are freed before the next pass allocates, so it reuses their memory.
            using var passScope = NewDisposeScope();
            int count = Math.Min(rowsPerPass, rows - start);
            var passLabels = labels.narrow(0, start, count);
            var logits = network.call(sequences.Slice(start, count));
            var passLoss = whole is null
                ? nn.functional.cross_entropy(logits, passLabels, weight: weights)
                : nn.functional.cross_entropy(logits, passLabels, weight: weights, reduction: nn.Reduction.Sum).div(whole);
            passLoss.backward();
            if (measure)
            {
                loss += passLoss.item<float>();
                correct += logits.argmax(1).eq(passLabels).sum().item<long>();
            }
        }
        return (loss, correct);
    }

    /// <summary>One training run's state: the schedule, the best weights so far and the counters.</summary>
    private sealed class Run(
        HostChannel host, LstmClassifierOptions options, LstmClassifierNetwork network,
        TrainingRows train, TrainingRows? validation, int seed, TrainingThreadTuner? threadTuner, FusedLstmKernel? kernel,
        bool fusedScoring)
    {
        private readonly int batchSize = options.BatchSize;
        private Dictionary<string, Tensor>? bestWeights;
        private double bestLoss = double.PositiveInfinity;
        private double? bestAccuracy;
        private long bestBatch;
        private int evaluationsWithoutImprovement;
        private int evaluationsSinceRateChange;

        public LstmTrainingSummary Execute(long skippedRows)
        {
            long totalBatches = TotalBatches();
            // Every batch is full; an epoch ends during the batch that brings the samples seen to a multiple of the rows.
            long batchesPerEpoch = (train.Count + batchSize - 1) / batchSize;
            bool evaluateAtEpochEnds = batchesPerEpoch <= options.DisplayStep;
            var order = new SampleOrder(train.Count, seed, batchSize,
                train.AllSameLength ? null : Enumerable.Range(0, train.Count).Select(train.StepsAt).ToArray());
            using var weights = ClassWeights();
            var positions = new long[batchSize];
            var clock = Stopwatch.StartNew();
            bool stoppedEarly = false;
            long batch = 0;

            network.train();
            using var optimizer = optim.Adam(network.parameters(), options.LearningRate);
            double learningRate = options.LearningRate;
            try
            {
                while (batch < totalBatches)
                {
                    host.CheckAlive();
                    batch++;
                    bool last = batch == totalBatches;
                    bool evaluate = validation is not null
                        && (last || (evaluateAtEpochEnds ? EndsEpoch(batch) : batch % options.DisplayStep == 0));
                    bool report = validation is not null ? evaluate : last || batch % options.DisplayStep == 0;
                    long stepStart = Stopwatch.GetTimestamp();
                    var (batchLoss, batchAccuracy) = Step(order, positions, optimizer, weights, measure: report);
                    threadTuner?.Record(Stopwatch.GetElapsedTime(stepStart), StepsIn(positions));
                    if (!report)
                        continue;

                    // Outside the batch's dispose scope: the receiver may use TorchSharp itself.
                    double? loss = null, accuracy = null;
                    bool best = false;
                    if (evaluate)
                    {
                        (loss, accuracy) = Evaluate(network, validation!, fusedScoring);
                        best = Remember(batch, loss.Value, accuracy.Value);
                        stoppedEarly = options.EarlyStoppingPatience is int patience && evaluationsWithoutImprovement >= patience && !last;
                    }
                    var progress = new LstmTrainingProgress(batch, totalBatches, SamplesSeen(batch), Epochs(batch),
                        batchLoss, batchAccuracy, loss, accuracy, clock.Elapsed, learningRate, best);
                    host.Info(progress.ToString());
                    options.Progress?.Report(progress);
                    if (stoppedEarly)
                    {
                        host.Info($"Early stopping: {evaluationsWithoutImprovement} validation evaluations without a better loss.");
                        break;
                    }
                    if (evaluate)
                        learningRate = MaybeReduceRate(optimizer, learningRate, best);
                }
                if (bestWeights is not null)
                    Restore(bestWeights);
            }
            finally
            {
                if (bestWeights is not null)
                {
                    foreach (var tensor in bestWeights.Values)
                        tensor.Dispose();
                }
            }

            long kept = bestWeights is null ? batch : bestBatch;
            var summary = new LstmTrainingSummary(train.Count, skippedRows, validation?.Count ?? 0, batch, Epochs(batch),
                kept, Epochs(kept), bestWeights is null ? null : bestLoss, bestAccuracy, stoppedEarly, learningRate);
            host.Info(FormattableString.Invariant($"Optimization finished in {clock.Elapsed.TotalSeconds:F1} s: {summary}."));
            if (threadTuner is not null)
                host.Info($"Threads: {threadTuner}.");
            return summary;
        }

        private long TotalBatches()
        {
            if (options.Epochs is int epochs)
            {
                long samples = checked((long)epochs * train.Count);
                return (samples + batchSize - 1) / batchSize;
            }
            long budget = options.TrainingSamples ?? LstmClassifierOptions.DefaultTrainingSamples;
            // Counted without overflow: long.MaxValue runs until stopped.
            return budget / batchSize + (budget % batchSize == 0 ? 0 : 1);
        }

        private long StepsIn(long[] positions)
        {
            long steps = 0;
            foreach (long position in positions)
                steps += train.StepsAt((int)position);
            return steps;
        }

        private long SamplesSeen(long batch) => batch > long.MaxValue / batchSize ? long.MaxValue : batch * batchSize;

        private double Epochs(long batch) => SamplesSeen(batch) / (double)train.Count;

        private bool EndsEpoch(long batch) => SamplesSeen(batch) / train.Count > SamplesSeen(batch - 1) / train.Count;

        /// <summary>One optimisation step on the next batch; its loss and accuracy when asked.</summary>
        private (double Loss, double Accuracy) Step(SampleOrder order, long[] positions, optim.Optimizer optimizer, Tensor? weights, bool measure)
        {
            using var scope = NewDisposeScope();
            order.Fill(positions);
            var (sequences, labels) = train.Gather(positions);
            optimizer.zero_grad();
            var (loss, correct) = kernel is not null
                ? FusedLstmTensors.SetGradients(kernel, network, sequences, labels, weights)
                : AccumulateGradients(network, sequences, labels, weights, TrainingPasses.RowsPerPass(sequences, network.Shape), measure);
            if (options.GradientClipNorm is double maxNorm)
                nn.utils.clip_grad_norm_(network.parameters(), maxNorm);
            optimizer.step();
            return measure ? (loss, correct / (double)positions.Length) : (double.NaN, double.NaN);
        }

        /// <summary>Inverse class frequencies for <see cref="ClassWeighting.Balanced"/>, detached from any scope; null otherwise.</summary>
        private Tensor? ClassWeights()
        {
            if (options.ClassWeighting != ClassWeighting.Balanced)
                return null;
            var counts = train.ClassCounts(network.Shape.ClassCount);
            int present = counts.Count(c => c > 0);
            var weights = counts.Select(c => c > 0 ? (float)(train.Count / ((double)present * c)) : 0f).ToArray();
            host.Info("Class weights (balanced): " + string.Join(", ", weights.Select(w => w.ToString("G4", System.Globalization.CultureInfo.InvariantCulture))) + ".");
            return tensor(weights).DetachFromDisposeScope();
        }

        /// <summary>Keeps a copy of the weights when the validation loss is the best so far.</summary>
        private bool Remember(long batch, double loss, double accuracy)
        {
            if (!(loss < bestLoss))
            {
                evaluationsWithoutImprovement++;
                return false;
            }
            bestLoss = loss;
            bestAccuracy = accuracy;
            bestBatch = batch;
            evaluationsWithoutImprovement = 0;
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();
            if (bestWeights is null)
            {
                bestWeights = network.state_dict().ToDictionary(p => p.Key, p => p.Value.detach().clone().DetachFromDisposeScope());
            }
            else
            {
                foreach (var (name, tensor) in network.state_dict())
                    bestWeights[name].copy_(tensor);
            }
            return true;
        }

        private void Restore(Dictionary<string, Tensor> weights)
        {
            using var noGrad = no_grad();
            foreach (var (name, tensor) in network.state_dict())
                tensor.copy_(weights[name]);
        }

        private double MaybeReduceRate(optim.Optimizer optimizer, double rate, bool improved)
        {
            if (options.LearningRateSchedule != LearningRateSchedule.ReduceOnPlateau)
                return rate;
            evaluationsSinceRateChange = improved ? 0 : evaluationsSinceRateChange + 1;
            if (evaluationsSinceRateChange < options.LearningRatePatience)
                return rate;
            evaluationsSinceRateChange = 0;
            double reduced = rate * options.LearningRateDecayFactor;
            foreach (var group in optimizer.ParamGroups)
                group.LearningRate = reduced;
            host.Info(FormattableString.Invariant($"Learning rate reduced to {reduced:G4} after {options.LearningRatePatience} validation evaluations without a better loss."));
            return reduced;
        }
    }

    /// <summary>
    /// Mean cross-entropy and accuracy on <paramref name="data"/>, without gradients, dropout or class
    /// weights; read as scoring reads them, grouped by length, and computed by the forward pass the model
    /// will score with: the fused kernel's when <paramref name="fused"/>, libtorch's otherwise.
    /// </summary>
    public static (double Loss, double Accuracy) Evaluate(LstmClassifierNetwork network, TrainingRows data, bool fused)
    {
        bool wasTraining = network.training;
        network.eval();
        using var kernel = fused ? FusedLstmKernel.ForScoring(network.Shape, FusedLstmTensors.WeightsOf(network)) : null;
        try
        {
            using var inference = inference_mode();
            double lossSum = 0;
            long correct = 0;
            var groups = Sequences.SequenceBatch.LengthGroups(Enumerable.Range(0, data.Count), data.StepsAt,
                network.Shape.ForwardValuesPerStep, EvaluationBatchSize, Scoring.BatchScorer.ReadAheadBytes / sizeof(float));
            foreach (var group in groups)
            {
                using var scope = NewDisposeScope();
                var (sequences, labels) = data.Gather(group.Select(position => (long)position).ToArray());
                var logits = kernel is null ? network.call(sequences) : FusedLstmTensors.Logits(kernel, sequences, network.Shape.ClassCount);
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
