using MlNetLstm.Network;
using static TorchSharp.torch;

namespace MlNetLstm.Scoring;

/// <summary>
/// Turns rows of features into class probabilities and predicted keys with one forward pass per batch.
/// Rows containing NaN or infinity get NaN probabilities and the missing key 0 rather than a guess.
/// </summary>
/// <remarks>
/// Thread-safe: the network is only read, and grad mode and dispose scopes are per thread. Disposing
/// waits for forward passes in flight, so the weights are never freed under one.
/// </remarks>
internal sealed class BatchScorer : IDisposable
{
    private readonly LstmClassifierNetwork network;
    private readonly ReaderWriterLockSlim lifetime = new();
    private readonly object owner;
    private bool disposed;

    public int FeatureLength { get; }
    public int ClassCount { get; }

    /// <param name="network">The network to score with; this scorer disposes it.</param>
    /// <param name="owner">Named in <see cref="ObjectDisposedException"/>s.</param>
    public BatchScorer(LstmClassifierNetwork network, object owner)
    {
        this.network = network;
        this.owner = owner;
        FeatureLength = network.Shape.FeatureLength;
        ClassCount = network.Shape.ClassCount;
    }

    public bool IsDisposed => Volatile.Read(ref disposed);

    public void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(IsDisposed, owner);

    /// <summary>Buffers for scoring up to <paramref name="capacity"/> rows at a time; one per cursor or row.</summary>
    public ScoringBatch CreateBatch(int capacity)
    {
        ThrowIfDisposed();
        return new ScoringBatch(this, capacity);
    }

    /// <summary>Scores the first <paramref name="rows"/> rows of <paramref name="batch"/>'s input.</summary>
    internal void Score(ScoringBatch batch, int rows)
    {
        lifetime.EnterReadLock();
        try
        {
            ThrowIfDisposed();
            using var scope = NewDisposeScope();
            using var inference = inference_mode();
            var probabilities = nn.functional.softmax(network.call(batch.Input.narrow(0, 0, rows)), 1);
            probabilities.FloatSpan().CopyTo(batch.ProbabilityBuffer);
            probabilities.argmax(1).LongSpan().CopyTo(batch.IndexBuffer);
        }
        finally
        {
            lifetime.ExitReadLock();
        }
        var features = batch.Input.FloatSpan();
        for (int row = 0; row < rows; row++)
        {
            if (FeatureRows.AllFinite(features.Slice(row * FeatureLength, FeatureLength)))
            {
                batch.KeyBuffer[row] = (uint)batch.IndexBuffer[row] + 1;
            }
            else
            {
                batch.ProbabilityBuffer.AsSpan(row * ClassCount, ClassCount).Fill(float.NaN);
                batch.KeyBuffer[row] = 0;
            }
        }
    }

    /// <summary>Frees the network once no forward pass is running. Safe to call more than once.</summary>
    public void Dispose()
    {
        lifetime.EnterWriteLock();
        try
        {
            if (disposed)
                return;
            Volatile.Write(ref disposed, true);
            network.Dispose();
        }
        finally
        {
            lifetime.ExitWriteLock();
        }
    }
}

/// <summary>
/// One reader's scoring buffers: the input rows live directly in a native tensor, so each row is
/// copied once from the data view into it and no tensor is allocated per batch.
/// </summary>
internal sealed class ScoringBatch : IDisposable
{
    private readonly BatchScorer scorer;

    public ScoringBatch(BatchScorer scorer, int capacity)
    {
        this.scorer = scorer;
        // Detached: a dispose scope the caller happens to have open must not free the cursor's buffer.
        Input = zeros(capacity, scorer.FeatureLength).DetachFromDisposeScope();
        ProbabilityBuffer = new float[capacity * scorer.ClassCount];
        KeyBuffer = new uint[capacity];
        IndexBuffer = new long[capacity];
    }

    internal Tensor Input { get; }
    internal float[] ProbabilityBuffer { get; }
    internal uint[] KeyBuffer { get; }
    internal long[] IndexBuffer { get; }

    /// <summary>
    /// The native memory the rows' features go into, row after row. Take it once per batch: each call
    /// asks libtorch for the tensor's storage.
    /// </summary>
    public Span<float> Features => Input.FloatSpan();

    public void Score(int rows) => scorer.Score(this, rows);

    public ReadOnlySpan<float> Probabilities(int row) => ProbabilityBuffer.AsSpan(row * scorer.ClassCount, scorer.ClassCount);

    public uint PredictedKey(int row) => KeyBuffer[row];

    public void Dispose() => Input.Dispose();
}
