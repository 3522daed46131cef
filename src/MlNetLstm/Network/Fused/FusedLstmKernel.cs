using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace MlNetLstm.Network.Fused;

/// <summary>
/// Forward and backward of a single-layer LSTM with a linear layer on its final hidden state and a
/// softmax cross-entropy loss, on AVX-512, for training. PyTorch's conventions: gate order i, f, g, o,
/// zero initial state, inputs [rows, steps, inputs], gradients in the layouts of <c>nn.LSTM</c>'s and
/// <c>nn.Linear</c>'s parameters.
/// </summary>
/// <remarks>
/// libtorch trains LSTMs with oneDNN's reference kernels on this CPU (≈16 ms per MNIST reference batch);
/// this does the same work in ≈6–7 ms on 2 cores. Why it is fast and repeatable:
/// <list type="bullet">
/// <item>Each step multiplies Z_t = [x_t | 1 | 0… | h_{t−1}] by the packed [W_ih | b_ih + b_hh | 0… | W_hh]ᵀ:
/// input projection, biases and the recurrent product in one register-blocked matrix product
/// (<see cref="Gemm"/>) whose weights stay in L2.</item>
/// <item>All weight gradients come from one product, Σ_t Z_tᵀ dGates_t, taken every few steps while
/// those steps are still in cache; the bias gradient is its "1" row.</item>
/// <item>The batch is cut into fixed partitions of <see cref="PartitionRows"/> rows. Threads claim
/// partitions one at a time (a thread slowed by another process takes fewer) and each runs its rows'
/// whole forward and backward with no synchronisation between steps; waiting threads block, never spin.
/// Partial gradients are summed in partition order, so the result does not depend on the thread count
/// or on which thread ran which partition: the same batch gives the same bits on 1 thread or 8.</item>
/// </list>
/// </remarks>
internal sealed unsafe class FusedLstmKernel : IDisposable
{
    /// <summary>Rows per partition: small enough to share a batch of 64 between two cores, large enough for full-speed products.</summary>
    public const int PartitionRows = 32;

    /// <summary>Steps per weight-gradient product: their activations are still in L2 (measured best of 1–28).</summary>
    private const int WeightGradientSteps = 4;

    /// <summary>K-blocking of the weight-gradient product (64–128 measured best).</summary>
    private const int WeightGradientKBlock = 128;

    private readonly int inputs;
    private readonly int hidden;
    private readonly int classes;
    private readonly int inputWidth;   // x_t, the 1 and zero padding to a multiple of 16
    private readonly int rowWidth;     // inputWidth + hidden: one row of Z_t
    private readonly int gates;        // 4 · hidden
    private readonly float* forwardWeights;    // [rowWidth × gates] in GEMM panels
    private readonly float* recurrentWeights;  // W_hh [gates × hidden] in GEMM panels, for dh_{t−1} = dGates_t W_hh; null when scoring
    private readonly float* outputWeights;     // [classes × hidden]
    private readonly float* outputBias;        // [classes]
    private readonly List<PartitionGradients> partials = [];
    private readonly List<Workspace> workspaces = [];
    // Scoring buffers not in use: as many as calls have run at once (one per scoring thread).
    private readonly ConcurrentStack<ScoringBuffers> spareScoringBuffers = new();
    private readonly PartitionWorkers workers;
    private bool disposed;

    /// <summary>Whether this CPU and runtime can run the kernel.</summary>
    public static bool IsSupported => Vector512.IsHardwareAccelerated && Avx512F.IsSupported;

    /// <summary>Whether the kernel computes this network, on any CPU: one unidirectional layer whose width fits its vectors.</summary>
    public static bool SupportsShape(NetworkShape shape) =>
        shape.NumberOfLayers == 1 && !shape.Bidirectional && shape.HiddenSize % 16 == 0
        && 4L * shape.HiddenSize * Math.Max(shape.InputSize, shape.HiddenSize) <= MaxWeightsPerMatrix
        && (long)shape.ClassCount * shape.HiddenSize <= MaxWeightsPerMatrix;

    /// <summary>Weights are read through spans, which cannot pass 2 GiB; larger networks stay with libtorch.</summary>
    private const long MaxWeightsPerMatrix = 1L << 28;

    /// <summary>Whether the kernel computes this network here.</summary>
    public static bool Supports(NetworkShape shape) => IsSupported && SupportsShape(shape);

    public FusedLstmKernel(NetworkShape shape, int threads) : this(shape, threads, forTraining: true)
    {
    }

    private FusedLstmKernel(NetworkShape shape, int threads, bool forTraining)
    {
        if (!Supports(shape))
            throw new ArgumentException("The fused kernel needs AVX-512 and one unidirectional layer of a multiple of 16 units.", nameof(shape));
        inputs = shape.InputSize;
        hidden = shape.HiddenSize;
        classes = shape.ClassCount;
        inputWidth = InputWidthOf(inputs);
        rowWidth = inputWidth + hidden;
        gates = 4 * hidden;
        forwardWeights = Allocate((long)rowWidth * gates);
        // Only backward reads W_hh on its own; the forward product has it in forwardWeights.
        recurrentWeights = forTraining ? Allocate((long)gates * hidden) : null;
        outputWeights = Allocate((long)classes * hidden);
        outputBias = Allocate(classes);
        workers = new PartitionWorkers(threads);
    }

    /// <summary>Threads that share a batch's partitions (the caller's included); can change between batches.</summary>
    public int Threads
    {
        get => workers.Threads;
        set => workers.Threads = value;
    }

    /// <summary>
    /// A kernel that scores with fixed <paramref name="weights"/>, packed once. <see cref="Score"/> may be
    /// called from several threads at once; each call runs on its caller's thread.
    /// </summary>
    public static FusedLstmKernel ForScoring(NetworkShape shape, in Parameters weights)
    {
        var kernel = new FusedLstmKernel(shape, threads: 1, forTraining: false);
        try
        {
            kernel.Pack(weights);
            return kernel;
        }
        catch
        {
            kernel.Dispose();
            throw;
        }
    }

    /// <summary>Rows scored at once: their state stays in L2 (≈1.3 MB at 128 hidden units).</summary>
    private const int ScoringRows = 256;

    /// <summary>
    /// Logits [rows, classes] of each row's final hidden state for <paramref name="values"/> ([rows,
    /// steps, inputs], each row zero-padded after its length in <paramref name="lengths"/>, or all
    /// <paramref name="steps"/> long when null) with the weights given to <see cref="ForScoring"/>. A
    /// row's logits do not depend on the rows scored with it, nor on their lengths.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Score(ReadOnlySpan<float> values, int rows, int steps, ReadOnlySpan<long> lengths, Span<float> logits)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        if (rows < 1 || steps < 1 || values.Length != (long)rows * steps * inputs || logits.Length != (long)rows * classes)
            throw new ArgumentException($"A batch of {rows} rows × {steps} steps × {inputs} inputs was expected.", nameof(values));
        CheckLengths(lengths, rows, steps);
        int blockRows = Math.Min(ScoringRows, Gemm.RowsPadded(rows));
        // Every value of these buffers that a block reads, it has written first.
        if (!spareScoringBuffers.TryPop(out var buffers))
            buffers = new ScoringBuffers(this);
        float* z = buffers.Z, activations = buffers.Activations, cells = buffers.Cells, finalHidden = buffers.FinalHidden;
        try
        {
            fixed (float* x = values, output = logits)
            {
                for (int first = 0; first < rows; first += blockRows)
                {
                    int count = Math.Min(blockRows, rows - first);
                    int padded = Gemm.RowsPadded(count);
                    long zStep = (long)padded * rowWidth;
                    float* block = x + (long)first * steps * inputs;
                    // Z alternates between two buffers: step t reads one and writes h_t into the other.
                    LoadStep(z, block, count, padded, steps, 0);
                    for (int t = 0; t < steps; t++)
                    {
                        float* current = z + (t & 1) * zStep, next = z + ((t + 1) & 1) * zStep;
                        if (t + 1 < steps)
                            LoadStep(next, block, count, padded, steps, t + 1);
                        Gemm.MulRowA(padded, gates, rowWidth, current, rowWidth, forwardWeights, activations, gates, false, ZeroColumnsOfStep(t));
                        Cell(padded, next, activations, cells, t == 0 ? null : cells, tanhC: null);
                        // A row's final state is its h at its own last step; later steps read its padding.
                        for (int r = 0; r < count; r++)
                        {
                            if ((lengths.IsEmpty ? steps : lengths[first + r]) == t + 1)
                                new ReadOnlySpan<float>(next + (long)r * rowWidth + inputWidth, hidden).CopyTo(new Span<float>(finalHidden + (long)r * hidden, hidden));
                        }
                    }
                    for (int r = 0; r < count; r++)
                    {
                        for (int k = 0; k < classes; k++)
                            output[(long)(first + r) * classes + k] = Logit(k, finalHidden + (long)r * hidden);
                    }
                }
            }
        }
        finally
        {
            // Kept for the next call, up to one set per core; a burst of more callers frees its extras.
            if (spareScoringBuffers.Count < Environment.ProcessorCount)
                spareScoringBuffers.Push(buffers);
            else
                buffers.Dispose();
        }
    }

    /// <summary>Row lengths are one per row, each 1 to <paramref name="steps"/>, or none (every row full length).</summary>
    private static void CheckLengths(ReadOnlySpan<long> lengths, int rows, int steps)
    {
        if (lengths.Length != 0 && lengths.Length != rows)
            throw new ArgumentException($"{lengths.Length} lengths for a batch of {rows} rows.", nameof(lengths));
        foreach (long length in lengths)
        {
            if (length < 1 || length > steps)
                throw new ArgumentOutOfRangeException(nameof(lengths), $"A row of {length} steps in a batch of {steps} steps.");
        }
    }

    /// <summary>One scoring call's buffers for a block of <see cref="ScoringRows"/> rows, kept for the next call.</summary>
    private sealed class ScoringBuffers : IDisposable
    {
        public readonly float* Z;   // this step's and the next step's Z
        public readonly float* Activations;
        public readonly float* Cells;
        public readonly float* FinalHidden;

        public ScoringBuffers(FusedLstmKernel kernel)
        {
            try
            {
                Z = Allocate(2L * ScoringRows * kernel.rowWidth);
                Activations = Allocate((long)ScoringRows * kernel.gates);
                Cells = Allocate((long)ScoringRows * kernel.hidden);
                FinalHidden = Allocate((long)ScoringRows * kernel.hidden);
            }
            catch
            {
                Dispose(); // AlignedFree ignores the null pointers of buffers not made
                throw;
            }
        }

        public void Dispose()
        {
            NativeMemory.AlignedFree(Z);
            NativeMemory.AlignedFree(Activations);
            NativeMemory.AlignedFree(Cells);
            NativeMemory.AlignedFree(FinalHidden);
        }
    }

    /// <summary>Partitions a batch of <paramref name="rows"/> rows is cut into.</summary>
    public static int PartitionsFor(int rows) => (rows + PartitionRows - 1) / PartitionRows;

    /// <summary>Columns of Z's input part: x_t, the 1 and zero padding to a multiple of 16.</summary>
    private static int InputWidthOf(int inputs) => (inputs + 1 + 15) / 16 * 16;

    /// <summary>Bytes of one training thread's workspace for partitions of up to <paramref name="steps"/> steps.</summary>
    public static long WorkspaceBytes(NetworkShape shape, long steps)
    {
        long rowWidth = InputWidthOf(shape.InputSize) + shape.HiddenSize, gates = 4L * shape.HiddenSize;
        // Z, activations, c and tanh(c) per row and step, as Workspace.Ensure allocates them.
        return (steps + 1) * PartitionRows * sizeof(float) * (rowWidth + gates + 2L * shape.HiddenSize);
    }

    /// <summary>The output layer's logit <paramref name="k"/> for the final hidden state at <paramref name="h"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private float Logit(int k, float* h) => outputBias[k] + VectorMath.Dot(outputWeights + (long)k * hidden, h, hidden);

    /// <summary>Writes [x_t | 1 | 0…] into the input part of one step's Z; padding rows are all zero.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void LoadStep(float* zt, float* x, int count, int rows, int steps, int t)
    {
        // Whole vectors of x, then one masked load of x's tail merged into [0… | 1 | 0…] (masked-off lanes
        // are not read, so the last row's end is never passed).
        int whole = inputs / 16 * 16;
        int tail = inputs - whole;
        var tailMask = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(tail)).AsSingle();
        var one = Vector512.ConditionalSelect(Vector512.Equals(Vector512<int>.Indices, Vector512.Create(tail)).AsSingle(), Vector512<float>.One, Vector512<float>.Zero);
        for (int r = 0; r < rows; r++)
        {
            float* row = zt + (long)r * rowWidth;
            if (r < count)
            {
                float* source = x + ((long)r * steps + t) * inputs;
                for (int k = 0; k < whole; k += 16)
                    Vector512.Store(Vector512.Load(source + k), row + k);
                Vector512.Store(Avx512F.MaskLoad(source + whole, tailMask, one), row + whole);
                for (int k = whole + 16; k < inputWidth; k += 16)
                    Vector512.Store(Vector512<float>.Zero, row + k);
            }
            else
            {
                new Span<float>(row, inputWidth).Clear();
            }
        }
    }

    /// <summary>
    /// The columns of step t's Z that are zero: the padding after x_t's 1, and at step 0 h_{−1} too. The
    /// gates' sums skip them (scoring leaves step 0's h_{−1} unwritten); with finite weights only a sum of
    /// exactly zero can differ, in its sign, which no nonlinearity sees.
    /// </summary>
    private ZeroColumns ZeroColumnsOfStep(int t) => new(inputs + 1, t == 0 ? rowWidth : inputWidth);

    /// <summary>h_{−1} = 0 in step 0's Z.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ClearHidden(float* z0, int rows)
    {
        for (int r = 0; r < rows; r++)
            new Span<float>(z0 + (long)r * rowWidth + inputWidth, hidden).Clear();
    }

    /// <summary>
    /// Gate nonlinearities and the state update of one step; writes h_t into the next step's Z. Training
    /// (<paramref name="tanhC"/> given) keeps the activations and tanh(c_t) for backward; c may be
    /// updated in place (<paramref name="c"/> = <paramref name="cPrevious"/>).
    /// </summary>
    /// <remarks>
    /// Software-pipelined over the vectors of 16 units: tanh(c) of one vector is computed with the gates
    /// of the next, so five independent chains are in flight instead of four and then one.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Cell(int rows, float* zNext, float* a, float* c, float* cPrevious, float* tanhC)
    {
        int h = hidden, g = gates, width = rowWidth;
        var one = Vector512<float>.One;
        var two = Vector512.Create(2f);
        // The vector whose h and tanh(c) are still to be written.
        bool pending = false;
        Vector512<float> pendingCell = default, pendingOutput = default;
        float* pendingHidden = null, pendingTanh = null;
        for (int r = 0; r < rows; r++)
        {
            float* ar = a + (long)r * g;
            float* hr = zNext + (long)r * width + inputWidth;
            for (int j = 0; j < h; j += 16)
            {
                // i, f, o = sigmoid; g = tanh(v) = 2 sigmoid(2v) − 1, so all four share one interleaved sigmoid.
                var i = Vector512.Load(ar + j);
                var f = Vector512.Load(ar + h + j);
                var gg = Vector512.Load(ar + 2 * h + j) * two;
                var o = Vector512.Load(ar + 3 * h + j);
                // Before the first vector nothing is pending: the tanh of zero computed then goes unused.
                var tanh = pendingCell;
                VectorMath.Sigmoid4Tanh(ref i, ref f, ref gg, ref o, ref tanh);
                if (pending)
                {
                    if (pendingTanh != null)
                        Vector512.Store(tanh, pendingTanh);
                    Vector512.Store(pendingOutput * tanh, pendingHidden);
                }
                gg = Vector512.FusedMultiplyAdd(gg, two, -one);
                var previous = cPrevious == null ? Vector512<float>.Zero : Vector512.Load(cPrevious + (long)r * h + j);
                var cell = Vector512.FusedMultiplyAdd(f, previous, i * gg);
                if (tanhC != null)
                {
                    Vector512.Store(i, ar + j);
                    Vector512.Store(f, ar + h + j);
                    Vector512.Store(gg, ar + 2 * h + j);
                    Vector512.Store(o, ar + 3 * h + j);
                }
                Vector512.Store(cell, c + (long)r * h + j);
                pending = true;
                pendingCell = cell;
                pendingOutput = o;
                pendingHidden = hr + j;
                pendingTanh = tanhC == null ? null : tanhC + (long)r * h + j;
            }
        }
        if (pending)
        {
            var tanh = VectorMath.Tanh(pendingCell);
            if (pendingTanh != null)
                Vector512.Store(tanh, pendingTanh);
            Vector512.Store(pendingOutput * tanh, pendingHidden);
        }
    }

    /// <summary>The six parameters, or their gradients, in PyTorch's layouts.</summary>
    public readonly ref struct Parameters(Span<float> inputWeights, Span<float> recurrentWeights, Span<float> inputBias,
        Span<float> recurrentBias, Span<float> outputWeights, Span<float> outputBias)
    {
        public Span<float> InputWeights { get; } = inputWeights;
        public Span<float> RecurrentWeights { get; } = recurrentWeights;
        public Span<float> InputBias { get; } = inputBias;
        public Span<float> RecurrentBias { get; } = recurrentBias;
        public Span<float> OutputWeights { get; } = outputWeights;
        public Span<float> OutputBias { get; } = outputBias;
    }

    /// <summary>
    /// Writes into <paramref name="gradients"/> the gradients of Σ_r rowWeights[r] · CE(row r) for the
    /// batch <paramref name="values"/> ([rows, steps, inputs], each row zero-padded after its length in
    /// <paramref name="lengths"/>, or all <paramref name="steps"/> long when empty); returns that loss and
    /// the rows whose largest logit is their label. Weights of 1/rows give the mean cross-entropy.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public (double Loss, long Correct) Train(in Parameters weights, ReadOnlySpan<float> values, int rows, int steps,
        ReadOnlySpan<long> lengths, ReadOnlySpan<long> labels, ReadOnlySpan<float> rowWeights, in Parameters gradients)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        if (recurrentWeights == null)
            throw new InvalidOperationException("A kernel made for scoring does not train.");
        if (rows < 1 || steps < 1 || values.Length != (long)rows * steps * inputs || labels.Length != rows || rowWeights.Length != rows)
            throw new ArgumentException($"A batch of {rows} rows × {steps} steps × {inputs} inputs was expected.", nameof(values));
        CheckLengths(lengths, rows, steps);
        foreach (long label in labels)
        {
            if (label < 0 || label >= classes)
                throw new ArgumentOutOfRangeException(nameof(labels), $"label {label} is not one of the {classes} classes.");
        }
        Pack(weights);
        int partitions = PartitionsFor(rows);
        while (partials.Count < partitions)
            partials.Add(new PartitionGradients(this));
        EnsureWorkspaces();
        fixed (float* x = values, scale = rowWeights)
        fixed (long* y = labels, length = lengths)
        {
            float* xs = x, scales = scale;
            long* ys = y, ls = length;
            workers.Run(partitions, (partition, thread) =>
            {
                int first = partition * PartitionRows;
                int count = Math.Min(PartitionRows, rows - first);
                long* partitionLengths = ls == null ? null : ls + first;
                // A partition runs to its longest row's end only.
                int partitionSteps = steps;
                if (partitionLengths != null)
                {
                    partitionSteps = 1;
                    for (int r = 0; r < count; r++)
                        partitionSteps = Math.Max(partitionSteps, (int)partitionLengths[r]);
                }
                WorkspaceFor(thread, count, partitionSteps).Train(xs + (long)first * steps * inputs, steps, partitionLengths, ys + first, scales + first,
                    count, partitionSteps, partials[partition]);
            });
        }
        // Partial sums in partition order: the same bits whichever threads ran them.
        var total = partials[0];
        double loss = total.Loss;
        long correct = total.Correct;
        for (int p = 1; p < partitions; p++)
        {
            loss += partials[p].Loss;
            correct += partials[p].Correct;
            VectorMath.AddInto(total.Weights, partials[p].Weights, gates * rowWidth);
            VectorMath.AddInto(total.OutputWeights, partials[p].OutputWeights, classes * hidden);
            VectorMath.AddInto(total.OutputBias, partials[p].OutputBias, classes);
        }
        Unpack(total, gradients);
        return (loss, correct);
    }

    private void EnsureWorkspaces()
    {
        while (workspaces.Count < workers.Threads)
            workspaces.Add(new Workspace(this));
    }

    private Workspace WorkspaceFor(int thread, int rows, int steps)
    {
        var workspace = workspaces[thread];
        // Each thread sizes only its own workspace.
        workspace.Ensure(Gemm.RowsPadded(rows), steps);
        return workspace;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Pack(in Parameters weights)
    {
        if (weights.InputWeights.Length != gates * inputs || weights.RecurrentWeights.Length != gates * hidden
            || weights.InputBias.Length != gates || weights.RecurrentBias.Length != gates
            || weights.OutputWeights.Length != classes * hidden || weights.OutputBias.Length != classes)
            throw new ArgumentException("The parameters do not have the network's shape.", nameof(weights));
        fixed (float* wIh = weights.InputWeights, wHh = weights.RecurrentWeights, bIh = weights.InputBias, bHh = weights.RecurrentBias)
        {
            // The forward product's B(k, n) is row n of [W_ih | b_ih + b_hh | 0… | W_hh]: each panel of
            // columns n is its gate rows transposed.
            for (int panel = 0; panel < gates; panel += Gemm.NR)
            {
                int width = Math.Min(Gemm.NR, gates - panel);
                float* block = forwardWeights + (long)panel * rowWidth;
                Gemm.Transpose(wIh + (long)panel * inputs, width, inputs, inputs, block, width);
                for (int j = 0; j < width; j++)
                    block[inputs * width + j] = bIh[panel + j] + bHh[panel + j];
                new Span<float>(block + (long)(inputs + 1) * width, (inputWidth - inputs - 1) * width).Clear();
                Gemm.Transpose(wHh + (long)panel * hidden, width, hidden, hidden, block + (long)inputWidth * width, width);
            }
            if (recurrentWeights != null)
                Gemm.PackPanels(wHh, hidden, gates, hidden, recurrentWeights);
        }
        weights.OutputWeights.CopyTo(new Span<float>(outputWeights, classes * hidden));
        weights.OutputBias.CopyTo(new Span<float>(outputBias, classes));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Unpack(PartitionGradients total, in Parameters gradients)
    {
        // Z's column k of gate row g is at k · gates + g.
        float* weights = total.Weights;
        fixed (float* wIh = gradients.InputWeights, wHh = gradients.RecurrentWeights, bIh = gradients.InputBias, bHh = gradients.RecurrentBias)
        {
            Gemm.Transpose(weights, inputs, gates, gates, wIh, inputs);
            float* bias = weights + (long)inputs * gates;
            for (int g = 0; g < gates; g++)
                bIh[g] = bHh[g] = bias[g];
            Gemm.Transpose(weights + (long)inputWidth * gates, hidden, gates, gates, wHh, hidden);
        }
        new ReadOnlySpan<float>(total.OutputWeights, classes * hidden).CopyTo(gradients.OutputWeights);
        new ReadOnlySpan<float>(total.OutputBias, classes).CopyTo(gradients.OutputBias);
    }

    public void Dispose()
    {
        if (disposed)
            return;
        disposed = true;
        workers.Dispose();
        foreach (var workspace in workspaces)
            workspace.Dispose();
        foreach (var partial in partials)
            partial.Dispose();
        workspaces.Clear();
        partials.Clear();
        while (spareScoringBuffers.TryPop(out var buffers))
            buffers.Dispose();
        NativeMemory.AlignedFree(forwardWeights);
        NativeMemory.AlignedFree(recurrentWeights);
        NativeMemory.AlignedFree(outputWeights);
        NativeMemory.AlignedFree(outputBias);
    }

    private static float* Allocate(long count)
    {
        var memory = (float*)NativeMemory.AlignedAlloc((nuint)(count * sizeof(float)), 64);
        NativeMemory.Clear(memory, (nuint)(count * sizeof(float)));
        return memory;
    }

    /// <summary>One partition's share of the gradients, its loss and its rows predicted right.</summary>
    private sealed class PartitionGradients(FusedLstmKernel kernel) : IDisposable
    {
        public readonly float* Weights = Allocate((long)kernel.rowWidth * kernel.gates);   // d[W_ih | b | 0… | W_hh]ᵀ: one row per column of Z
        public readonly float* OutputWeights = Allocate((long)kernel.classes * kernel.hidden);
        public readonly float* OutputBias = Allocate(kernel.classes);
        public double Loss;
        public long Correct;

        public void Dispose()
        {
            NativeMemory.AlignedFree(Weights);
            NativeMemory.AlignedFree(OutputWeights);
            NativeMemory.AlignedFree(OutputBias);
        }
    }

    /// <summary>One thread's buffers for a partition's forward and backward.</summary>
    private sealed class Workspace(FusedLstmKernel kernel) : IDisposable
    {
        // Rows are rounded up to the products' 8-row blocks; rows past the partition's are zeros with no
        // weight in the loss, so their gradients are zero too.
        private const int Rows = PartitionRows;
        private readonly float* hiddenGradient = Allocate((long)Rows * kernel.hidden);
        private readonly float* cellGradient = Allocate((long)Rows * kernel.hidden);
        private readonly float* logits = Allocate((long)Rows * kernel.classes);
        private readonly float* finalHiddenGradient = Allocate((long)Rows * kernel.hidden); // dh at each row's own last step
        private long rowSteps;     // (steps + 1) × rows that each buffer below has room for
        private float* z;          // [(steps + 1) × rows × rowWidth]: step t holds [x_t | 1 | 0… | h_{t−1}]
        private float* activations; // [steps × rows × gates]: i, f, g, o; overwritten by dGates in backward
        private float* cells;      // [steps × rows × hidden]: c_t
        private float* cellTanh;   // [steps × rows × hidden]: tanh(c_t)

        /// <summary>Room for a partition of <paramref name="rows"/> rows (a multiple of 8) over <paramref name="steps"/> steps.</summary>
        public void Ensure(int rows, int steps)
        {
            long wanted = (long)(steps + 1) * rows;
            if (wanted <= rowSteps)
                return;
            // Nothing points at freed memory if an allocation fails: the old buffers go first, then each new one is set as made.
            FreeSteps();
            z = Allocate(wanted * kernel.rowWidth);
            activations = Allocate(wanted * kernel.gates);
            cells = Allocate(wanted * kernel.hidden);
            cellTanh = Allocate(wanted * kernel.hidden);
            rowSteps = wanted;
        }

        /// <summary>
        /// Forward and backward of <paramref name="count"/> rows of <paramref name="x"/> ([count, stride,
        /// inputs]) over <paramref name="stepCount"/> steps; row r ends at step lengths[r] (all at
        /// <paramref name="stepCount"/> when <paramref name="lengths"/> is null).
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Train(float* x, int stride, long* lengths, long* labels, float* rowWeights, int count, int stepCount, PartitionGradients result)
        {
            var k = kernel;
            int rows = Gemm.RowsPadded(count);
            int h = k.hidden, g = k.gates, width = k.rowWidth;
            long zStep = (long)rows * width, aStep = (long)rows * g, cStep = (long)rows * h;
            for (int t = 0; t < stepCount; t++)
                k.LoadStep(z + t * zStep, x, count, rows, stride, t);
            // The forward product skips h_{−1}, but the weight gradients read it.
            k.ClearHidden(z, rows);
            for (int t = 0; t < stepCount; t++)
            {
                float* a = activations + t * aStep;
                Gemm.MulRowA(rows, g, width, z + t * zStep, width, k.forwardWeights, a, g, false, k.ZeroColumnsOfStep(t));
                k.Cell(rows, z + (t + 1) * zStep, a, cells + t * cStep, t == 0 ? null : cells + (t - 1) * cStep, cellTanh + t * cStep);
            }
            Head(lengths, stepCount, labels, rowWeights, count, rows, result);
            // A shorter row's loss does not depend on its later steps: its dh and dc are zero there (and stay
            // exactly zero through them), and its dh from the loss enters at its own last step.
            bool shorterRows = false;
            for (int r = 0; lengths != null && r < count; r++)
            {
                if (lengths[r] < stepCount)
                {
                    shorterRows = true;
                    var dh = new Span<float>(hiddenGradient + (long)r * h, h);
                    dh.CopyTo(new Span<float>(finalHiddenGradient + (long)r * h, h));
                    dh.Clear();
                }
            }

            // Backward through time; dGates_t overwrite step t's activations.
            new Span<float>(cellGradient, rows * h).Clear();
            new Span<float>(result.Weights, g * width).Clear();
            for (int t = stepCount - 1; t >= 0; t--)
            {
                float* a = activations + t * aStep;
                for (int r = 0; shorterRows && t + 1 < stepCount && r < count; r++)
                {
                    if (lengths[r] == t + 1)
                        new ReadOnlySpan<float>(finalHiddenGradient + (long)r * h, h).CopyTo(new Span<float>(hiddenGradient + (long)r * h, h));
                }
                CellBackward(rows, a, cellTanh + t * cStep, t == 0 ? null : cells + (t - 1) * cStep);
                if (t > 0)
                    Gemm.MulRowA(rows, h, g, a, g, k.recurrentWeights, hiddenGradient, h, false);
                if (t % WeightGradientSteps == 0)
                {
                    // Steps t.. are contiguous in both activations and z: one product with K = steps · rows.
                    int n = Math.Min(WeightGradientSteps, stepCount - t);
                    Gemm.MulColA(width, g, rows * n, z + t * zStep, width, a, g, result.Weights, g, WeightGradientKBlock);
                }
            }
        }

        /// <summary>
        /// Logits of each row's final hidden state, the weighted cross-entropy, and its gradients: dlogits =
        /// weight · (softmax − one-hot), into the output layer's gradients and the dh of that state.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Head(long* lengths, int stepCount, long* labels, float* rowWeights, int count, int rows, PartitionGradients result)
        {
            int h = kernel.hidden, c = kernel.classes, width = kernel.rowWidth;
            new Span<float>(result.OutputWeights, c * h).Clear();
            new Span<float>(result.OutputBias, c).Clear();
            new Span<float>(hiddenGradient, rows * h).Clear();
            double loss = 0;
            long correct = 0;
            for (int r = 0; r < count; r++)
            {
                // A row's final state is its h after its own last step, which sits in the Z of the step after.
                float* hr = z + (lengths == null ? stepCount : lengths[r]) * ((long)rows * width) + (long)r * width + kernel.inputWidth;
                float* logit = logits + (long)r * c;
                float max = float.NegativeInfinity;
                int predicted = 0;
                for (int k = 0; k < c; k++)
                {
                    logit[k] = kernel.Logit(k, hr);
                    if (logit[k] > max)
                    {
                        max = logit[k];
                        predicted = k;
                    }
                }
                int label = (int)labels[r];
                if (predicted == label)
                    correct++;
                float labelLogit = logit[label] - max;
                float sum = 0;
                for (int k = 0; k < c; k++)
                {
                    logit[k] = MathF.Exp(logit[k] - max);
                    sum += logit[k];
                }
                float weight = rowWeights[r];
                // log-softmax from the shifted logit, not log(exp(…)), which underflows to log 0 far from the max
                loss += weight * (MathF.Log(sum) - labelLogit);
                for (int k = 0; k < c; k++)
                    logit[k] = (logit[k] / sum - (k == label ? 1f : 0f)) * weight;
                float* dh = hiddenGradient + (long)r * h;
                for (int j = 0; j < h; j += 16)
                {
                    var hv = Vector512.Load(hr + j);
                    var sum16 = Vector512<float>.Zero;
                    for (int k = 0; k < c; k++)
                    {
                        var d = Vector512.Create(logit[k]);
                        sum16 = Vector512.FusedMultiplyAdd(d, Vector512.Load(kernel.outputWeights + (long)k * h + j), sum16);
                        float* dw = result.OutputWeights + (long)k * h + j;
                        Vector512.Store(Vector512.FusedMultiplyAdd(d, hv, Vector512.Load(dw)), dw);
                    }
                    Vector512.Store(sum16, dh + j);
                }
                for (int k = 0; k < c; k++)
                    result.OutputBias[k] += logit[k];
            }
            result.Loss = loss;
            result.Correct = correct;
        }

        /// <summary>dGates of one step from dh_t and dc_t (overwriting the activations); carries dc to the step before.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void CellBackward(int rows, float* a, float* tanhC, float* cPrevious)
        {
            int h = kernel.hidden, g = kernel.gates;
            var one = Vector512<float>.One;
            for (int r = 0; r < rows; r++)
            {
                float* ar = a + (long)r * g;
                long at = (long)r * h;
                for (int j = 0; j < h; j += 16)
                {
                    var i = Vector512.Load(ar + j);
                    var f = Vector512.Load(ar + h + j);
                    var gg = Vector512.Load(ar + 2 * h + j);
                    var o = Vector512.Load(ar + 3 * h + j);
                    var tanh = Vector512.Load(tanhC + at + j);
                    var previous = cPrevious == null ? Vector512<float>.Zero : Vector512.Load(cPrevious + at + j);
                    var dh = Vector512.Load(hiddenGradient + at + j);
                    var dc = Vector512.Load(cellGradient + at + j) + dh * o * (one - tanh * tanh);
                    Vector512.Store(dc * f, cellGradient + at + j);
                    Vector512.Store(dc * gg * i * (one - i), ar + j);
                    Vector512.Store(dc * previous * f * (one - f), ar + h + j);
                    Vector512.Store(dc * i * (one - gg * gg), ar + 2 * h + j);
                    Vector512.Store(dh * tanh * o * (one - o), ar + 3 * h + j);
                }
            }
        }

        private void FreeSteps()
        {
            NativeMemory.AlignedFree(z);
            NativeMemory.AlignedFree(activations);
            NativeMemory.AlignedFree(cells);
            NativeMemory.AlignedFree(cellTanh);
            z = activations = cells = cellTanh = null;
            rowSteps = 0;
        }

        public void Dispose()
        {
            FreeSteps();
            NativeMemory.AlignedFree(hiddenGradient);
            NativeMemory.AlignedFree(cellGradient);
            NativeMemory.AlignedFree(logits);
            NativeMemory.AlignedFree(finalHiddenGradient);
        }
    }
}
