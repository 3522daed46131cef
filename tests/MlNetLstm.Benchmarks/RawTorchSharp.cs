using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MlNetLstm.Benchmarks;

/// <summary>
/// The same network and training written directly against TorchSharp, the way a skilled user would:
/// data already in tensors, a shuffled index per epoch, one dispose scope per batch.
/// </summary>
public sealed class RawLstmClassifier : nn.Module<Tensor, Tensor>
{
    private readonly LSTM lstm;
    private readonly Linear output;

    public RawLstmClassifier(int inputSize = 28, int hiddenSize = 128, int classes = 10) : base(nameof(RawLstmClassifier))
    {
        lstm = nn.LSTM(inputSize, hiddenSize, batchFirst: true);
        output = nn.Linear(hiddenSize, classes);
        RegisterComponents();
    }

    public override Tensor forward(Tensor pixels)
    {
        var (sequence, _, _) = lstm.call(pixels.view(-1, 28, 28));
        return output.call(sequence[.., -1, ..]);
    }

    /// <summary>Trains on <paramref name="samples"/> samples in batches; returns the seconds taken.</summary>
    public static double Train(Tensor features, Tensor labels, long samples, int batchSize = 128, int seed = 1)
    {
        manual_seed(seed);
        using var model = new RawLstmClassifier();
        using var optimizer = optim.Adam(model.parameters(), 0.001);
        long rows = features.shape[0];
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Tensor? order = null;
        long next = rows;
        for (long done = 0; done < samples; done += batchSize)
        {
            using var scope = NewDisposeScope();
            if (next + batchSize > rows)
            {
                order?.Dispose();
                order = randperm(rows).MoveToOuterDisposeScope();
                next = 0;
            }
            var index = order!.narrow(0, next, batchSize);
            next += batchSize;
            var loss = nn.functional.cross_entropy(model.call(features.index_select(0, index)), labels.index_select(0, index));
            optimizer.zero_grad();
            loss.backward();
            optimizer.step();
        }
        order?.Dispose();
        return clock.Elapsed.TotalSeconds;
    }

    /// <summary>Batched inference without gradients; returns the seconds taken.</summary>
    public static double Infer(RawLstmClassifier model, Tensor features, int batchSize)
    {
        model.eval();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var inference = inference_mode();
        for (long start = 0; start < features.shape[0]; start += batchSize)
        {
            using var scope = NewDisposeScope();
            var batch = features.narrow(0, start, Math.Min(batchSize, features.shape[0] - start));
            var probabilities = nn.functional.softmax(model.call(batch), 1);
            var predicted = probabilities.argmax(1);
            _ = predicted.data<long>()[0];
        }
        return clock.Elapsed.TotalSeconds;
    }
}
