using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.ML.Data;
using MlNetLstm.Network;
using MlNetLstm.Network.Fused;
using MlNetLstm.Persistence;
using MlNetLstm.Sequences;
using static TorchSharp.torch;

namespace MlNetLstm.Scoring;

/// <summary>
/// Turns rows of features into class probabilities and predicted keys, a batch of rows at a time.
/// Rows that are not a usable sequence (a NaN or infinity inside, or no steps) get NaN probabilities and
/// the missing key 0 rather than a guess.
/// </summary>
/// <remarks>
/// Thread-safe: the network is only read, and grad mode and dispose scopes are per thread. Every use of
/// the network — forward passes and saving — holds a <see cref="Lease"/>; disposing waits for them, so
/// the weights are never freed under one.
/// </remarks>
internal sealed class BatchScorer : IDisposable
{
    /// <summary>
    /// Memory a reader's rows read ahead may take (a cursor's two batches share it): they are bounded by
    /// bytes, not only by count. Also the work budget of the passes that score one batch at once.
    /// </summary>
    internal const long ReadAheadBytes = 64L << 20;
    internal const int MaxBatchRows = 1024;

    private readonly LstmClassifierNetwork network;
    private readonly FusedLstmKernel? fused;
    private readonly ReaderWriterLockSlim lifetime = new();
    private readonly object owner;
    private bool disposed;

    /// <param name="model">The model to score with; this scorer disposes its network.</param>
    /// <param name="owner">Named in <see cref="ObjectDisposedException"/>s.</param>
    public BatchScorer(LstmModel model, object owner)
    {
        Model = model;
        network = model.Network;
        this.owner = owner;
        ClassCount = model.Shape.ClassCount;
        if (model.Scoring == ScoringKernel.Fused && FusedLstmKernel.Supports(model.Shape))
            fused = FusedLstmKernel.ForScoring(model.Shape, FusedLstmTensors.WeightsOf(network));
    }

    public LstmModel Model { get; }

    /// <summary>
    /// What one step of one row costs in a forward pass, in floats: its inputs, and through libtorch each
    /// layer's outputs and gates (the fused kernel keeps its state in blocks of a fixed number of rows);
    /// the budget of a pass is counted in these.
    /// </summary>
    public long ValuesPerStep => fused is null ? Model.Shape.ForwardValuesPerStep : Input.InputSize;

    /// <summary>
    /// Rows a pass shared with other workers holds at most. The fused kernel scores rows in blocks of up
    /// to 256 (blocks of 128 ran at 0.996 of its speed), so on the workers its batches are cut into passes
    /// of 128 rows that they take as they come: on this project's 2-core VM one core often ran 20–40 %
    /// slower than the other for seconds at a time, and with one pass per core the faster then sat idle.
    /// Through libtorch larger passes run faster.
    /// </summary>
    public int MaxPassRows => fused is null ? int.MaxValue : FusedPassRows;

    internal const int FusedPassRows = 128;

    public SequenceShape Input => Model.Input;
    public string FeatureColumn => Model.Columns.Features;
    public int ClassCount { get; }

    public bool IsDisposed => Volatile.Read(ref disposed);

    /// <summary>Whether a <see cref="Dispose"/> is waiting for leases to end (tests observe the handshake).</summary>
    internal bool IsDisposePending => lifetime.WaitingWriteCount > 0;

    /// <summary>Leases waiting for a pending dispose (tests observe the handshake).</summary>
    internal int WaitingLeases => lifetime.WaitingReadCount;

    public void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(IsDisposed, owner);

    /// <summary>
    /// Holds the network against disposal until the lease is disposed.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The scorer was disposed, or is being disposed.</exception>
    public Lease Use()
    {
        lifetime.EnterReadLock();
        if (disposed)
        {
            lifetime.ExitReadLock();
            ThrowIfDisposed();
        }
        return new Lease(this);
    }

    /// <summary>
    /// Buffers for scoring up to <paramref name="maxRows"/> rows at a time, fewer when the classes are many
    /// or the rows take more than <paramref name="readAheadBytes"/>.
    /// </summary>
    public ScoringBatch CreateBatch(int maxRows, long readAheadBytes = ReadAheadBytes)
    {
        ThrowIfDisposed();
        long rowBytes = ClassCount * (long)sizeof(float) + sizeof(uint) + sizeof(long) + (Input.FeatureLength ?? 0) * (long)sizeof(float);
        int capacity = (int)Math.Clamp(readAheadBytes / rowBytes, 1, maxRows);
        return new ScoringBatch(this, capacity, readAheadBytes);
    }

    /// <summary>
    /// Starts scoring the rows added to <paramref name="batch"/>: rows of one length per forward pass, so
    /// padding costs nothing and a row's scores do not depend on the rows read with it. The passes run on
    /// the scoring workers when there are several (inline otherwise); each holds a <see cref="Lease"/>.
    /// </summary>
    internal ScoringWorkers.Passes StartScoring(ScoringBatch batch)
    {
        ThrowIfDisposed();
        // At most as many passes at once as the work budget was shared among.
        int shared = batch.SharedPasses(ScoringWorkers.Parallelism);
        var passes = batch.Groups(shared).ToList();
        return ScoringWorkers.Start(passes.Count, shared, i =>
        {
            using (Use())
                ScorePass(passes[i].Build, passes[i].Rows, batch);
        });
    }

    /// <summary>One forward pass over some of a batch's rows; passes write to disjoint rows of its buffers.</summary>
    private void ScorePass(Func<SequenceBatch> build, int[] members, ScoringBatch batch)
    {
        using var inference = inference_mode();
        using var scope = NewDisposeScope();
        var input = build();
        var scores = nn.functional.softmax(fused is not null ? FusedLstmTensors.Logits(fused, input, ClassCount) : network.call(input), 1);
        var predicted = scores.argmax(1).LongSpan();
        var values = scores.FloatSpan();
        var probabilities = batch.ProbabilityBuffer.AsSpan();
        for (int i = 0; i < members.Length; i++)
        {
            int row = members[i];
            values.Slice(i * ClassCount, ClassCount).CopyTo(probabilities.Slice(row * ClassCount, ClassCount));
            batch.KeyBuffer[row] = (uint)predicted[i] + 1;
        }
    }

    /// <summary>Reads the network (to save or export it) while holding it against disposal.</summary>
    public void WithNetwork(Action<LstmClassifierNetwork> read)
    {
        using (Use())
            read(network);
    }

    /// <summary>Frees the network once no lease is held. Safe to call more than once.</summary>
    public void Dispose()
    {
        lifetime.EnterWriteLock();
        try
        {
            if (disposed)
                return;
            Volatile.Write(ref disposed, true);
            network.Dispose();
            fused?.Dispose();
        }
        finally
        {
            lifetime.ExitWriteLock();
        }
    }

    /// <summary>A held read lock on the scorer's lifetime.</summary>
    public readonly struct Lease(BatchScorer scorer) : IDisposable
    {
        public void Dispose() => scorer.lifetime.ExitReadLock();
    }
}

/// <summary>
/// One reader's scoring buffers. Rows are decoded straight into a native tensor that belongs to the
/// reader, one after another; when they all have the same length that tensor is the network's input
/// as it is, with no further copy.
/// </summary>
internal sealed unsafe class ScoringBatch : IDisposable
{
    private readonly BatchScorer scorer;
    private readonly SequenceDecoder decoder;
    private readonly int inputSize;
    private readonly int[] offsets;
    private readonly int[] steps;
    private readonly RowProblem[] problems;
    private readonly long readAheadBytes;
    private Tensor staging;
    // The staging tensor's memory, taken once per tensor: asking the tensor for it costs native calls, per row.
    private float* stagingData;
    private int stagingLength;
    private long valuesUsed;
    private ScoringWorkers.Passes? scoring;
    private bool disposed;

    public ScoringBatch(BatchScorer scorer, int capacity, long readAheadBytes)
    {
        this.scorer = scorer;
        inputSize = scorer.Input.InputSize;
        decoder = new SequenceDecoder(scorer.Input, scorer.FeatureColumn);
        Capacity = capacity;
        this.readAheadBytes = readAheadBytes;
        offsets = new int[capacity];
        steps = new int[capacity];
        problems = new RowProblem[capacity];
        // Detached: a dispose scope the caller happens to have open must not free the reader's buffer.
        staging = empty(Math.Max((long)capacity * (scorer.Input.FeatureLength ?? 64 * inputSize), inputSize)).DetachFromDisposeScope();
        UseStaging(staging);
        ProbabilityBuffer = new float[capacity * (long)scorer.ClassCount];
        KeyBuffer = new uint[capacity];
    }

    public int Capacity { get; }
    public int Count { get; private set; }
    internal float[] ProbabilityBuffer { get; }
    internal uint[] KeyBuffer { get; }

    /// <summary>Room for another row: below the row capacity and the memory budget.</summary>
    public bool HasRoom => Count < Capacity && valuesUsed * sizeof(float) < readAheadBytes;

    public void Clear()
    {
        ThrowIfBusyOrDisposed();
        Count = 0;
        valuesUsed = 0;
    }

    /// <summary>Decodes a row of the feature column into the batch.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The row's length is not a whole number of steps.</exception>
    public void Add(in VBuffer<float> row)
    {
        ThrowIfBusyOrDisposed();
        if (valuesUsed + row.Length > stagingLength)
            GrowStaging(valuesUsed + row.Length);
        int index = Count;
        offsets[index] = (int)valuesUsed;
        problems[index] = decoder.Decode(row, Staging.Slice((int)valuesUsed, row.Length), out steps[index]);
        if (problems[index] == RowProblem.Empty)
            steps[index] = 0;
        valuesUsed += (long)steps[index] * inputSize;
        Count++;
    }

    private void GrowStaging(long needed)
    {
        // A span over tensor memory is limited to 2 GiB.
        const long maxValues = int.MaxValue / sizeof(float);
        if (needed > maxValues)
            throw new InvalidOperationException($"A row of feature column '{scorer.FeatureColumn}' with more than {maxValues} values cannot be scored.");
        var grown = empty(Math.Min(Math.Max(needed, stagingLength * 2L), maxValues)).DetachFromDisposeScope();
        Staging[..(int)valuesUsed].CopyTo(grown.FloatSpan());
        staging.Dispose();
        staging = grown;
        UseStaging(grown);
    }

    private Span<float> Staging => new(stagingData, stagingLength);

    private void UseStaging(Tensor tensor)
    {
        var memory = tensor.FloatSpan();
        stagingLength = memory.Length;
        stagingData = (float*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(memory));
    }

    public RowProblem ProblemOf(int row) => problems[row];

    /// <summary>
    /// The batch as network input, a batch of one length at a time (built in the caller's dispose scope
    /// when invoked), with the rows each holds. Rows that all have one length are the staging tensor itself
    /// (rows holding a NaN included: they are scored and overwritten rather than copied around). The rows
    /// are spread over at least <paramref name="sharedPasses"/> passes (from <see cref="SharedPasses"/>),
    /// each with its share of the work budget and, when shared, at most <see cref="BatchScorer.MaxPassRows"/> rows.
    /// </summary>
    internal IEnumerable<(Func<SequenceBatch> Build, int[] Rows)> Groups(int sharedPasses)
    {
        if (Count == 0)
            yield break;
        int length = steps[0];
        bool uniform = length > 0;
        for (int row = 1; row < Count && uniform; row++)
            uniform = steps[row] == length;
        int passes = Math.Max(sharedPasses, 1);
        long budget = BatchScorer.ReadAheadBytes / sizeof(float) / passes;
        int maxRows = (Count + passes - 1) / passes;
        // Scored inline, one pass per length: nothing to share.
        if (passes > 1)
            maxRows = Math.Min(maxRows, scorer.MaxPassRows);
        if (uniform)
        {
            // Consecutive rows of one length: slices of the staging tensor, within the work budget.
            long perRow = (long)length * scorer.ValuesPerStep;
            int limit = (int)Math.Clamp(budget / perRow, 1, maxRows);
            // Passes of equal size (to a row), a multiple of the shared passes in number: a short last pass
            // would leave the other threads idle at the end of the batch.
            int count = (Count + limit - 1) / limit;
            count = Math.Min((count + passes - 1) / passes * passes, Count);
            for (int pass = 0; pass < count; pass++)
            {
                int start = (int)((long)pass * Count / count), rows = (int)((long)(pass + 1) * Count / count) - start;
                yield return (() => new SequenceBatch(staging.narrow(0, (long)start * length * inputSize, (long)rows * length * inputSize).view(rows, length, inputSize), null),
                    Enumerable.Range(start, rows).ToArray());
            }
            yield break;
        }
        var usable = Enumerable.Range(0, Count).Where(row => problems[row] == RowProblem.None);
        foreach (var group in SequenceBatch.LengthGroups(usable, row => steps[row], scorer.ValuesPerStep, maxRows, budget))
            yield return (() => SequenceBatch.Build(inputSize, group.Length, i => Staging.Slice(offsets[group[i]], steps[group[i]] * inputSize)), group);
    }

    /// <summary>How many passes, run at once, share the batch's rows and work budget: 1 to score inline.</summary>
    internal int SharedPasses(int parallelism) => Math.Clamp(Count / MinimumRowsPerSharedPass, 1, Math.Max(parallelism, 1));

    /// <summary>Fewer rows than this per pass are not worth handing to another thread.</summary>
    internal const int MinimumRowsPerSharedPass = 16;

    /// <summary>Scores the rows added so far.</summary>
    public void Score()
    {
        StartScoring();
        FinishScoring();
    }

    /// <summary>
    /// Hands the rows added so far to the scorer and returns, possibly before they are scored; the batch
    /// cannot change until <see cref="FinishScoring"/>.
    /// </summary>
    public void StartScoring()
    {
        ThrowIfBusyOrDisposed();
        // Rows no pass scores (unusable rows among rows of different lengths) keep NaN and the missing key.
        ProbabilityBuffer.AsSpan(0, Count * scorer.ClassCount).Fill(float.NaN);
        KeyBuffer.AsSpan(0, Count).Clear();
        scoring = scorer.StartScoring(this);
    }

    /// <summary>Waits for the scores of <see cref="StartScoring"/>; rethrows a pass's failure.</summary>
    public void FinishScoring()
    {
        var passes = scoring ?? throw new InvalidOperationException("The batch is not being scored.");
        scoring = null;
        passes.Wait();
        // Rows scored only to keep a batch contiguous but holding a NaN or infinity inside.
        for (int row = 0; row < Count; row++)
        {
            if (problems[row] != RowProblem.None)
            {
                ProbabilityBuffer.AsSpan(row * scorer.ClassCount, scorer.ClassCount).Fill(float.NaN);
                KeyBuffer[row] = 0;
            }
        }
    }

    /// <summary>Whether the batch is being scored on other threads (started and not finished).</summary>
    public bool IsScoredElsewhere => scoring is { OnWorkers: true };

    private void ThrowIfBusyOrDisposed()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        if (scoring is not null)
            throw new InvalidOperationException("The batch is being scored.");
    }

    public ReadOnlySpan<float> Probabilities(int row) => ProbabilityBuffer.AsSpan(row * scorer.ClassCount, scorer.ClassCount);

    public uint PredictedKey(int row) => KeyBuffer[row];

    public void Dispose()
    {
        try
        {
            // The workers may still read the staging tensor; their failure no longer matters, as the
            // rows are never served.
            scoring?.Wait();
        }
        catch (Exception)
        {
        }
        scoring = null;
        disposed = true;
        stagingData = null;
        stagingLength = 0;
        staging.Dispose();
    }
}
