using System.Runtime.InteropServices;
using MlNetLstm.Network;
using static TorchSharp.torch;

namespace MlNetLstm.Sequences;

/// <summary>
/// Sequences held in memory for training: step-major values packed one after another into fixed-size
/// native chunks, so collecting rows from a source of unknown length never copies what it already holds
/// and the peak stays close to the data itself. Batches are gathered from it row by row.
/// </summary>
internal sealed unsafe class SequenceStore : IDisposable
{
    private const int ChunkValues = 4 << 20; // 16 MB of floats; a longer row gets a chunk of its own

    private readonly List<(IntPtr Start, int Capacity)> chunks = [];
    private int usedInLastChunk;
    private int[] chunkOf;
    private int[] offsetOf;
    private int[] stepsOf;

    /// <param name="inputSize">Values per step.</param>
    /// <param name="expectedRows">Rows the source says it has, when it says: the per-row records are sized once.</param>
    public SequenceStore(int inputSize, long? expectedRows = null)
    {
        InputSize = inputSize;
        int capacity = (int)Math.Clamp(expectedRows ?? 256, 1, Array.MaxLength);
        chunkOf = new int[capacity];
        offsetOf = new int[capacity];
        stepsOf = new int[capacity];
    }

    public int InputSize { get; }
    public int Count { get; private set; }
    public int MinSteps { get; private set; } = int.MaxValue;
    public int MaxSteps { get; private set; }

    /// <summary>Room for a row of <paramref name="values"/> values at the end of the store; <see cref="Commit"/> keeps part of it.</summary>
    public Span<float> Reserve(int values)
    {
        if (chunks.Count == 0 || chunks[^1].Capacity - usedInLastChunk < values)
        {
            int capacity = Math.Max(ChunkValues, values);
            chunks.Add(((IntPtr)NativeMemory.Alloc((nuint)capacity, sizeof(float)), capacity));
            usedInLastChunk = 0;
        }
        var (start, chunkCapacity) = chunks[^1];
        return new Span<float>((float*)start + usedInLastChunk, chunkCapacity - usedInLastChunk);
    }

    /// <summary>Keeps the first <paramref name="steps"/> steps written into the last <see cref="Reserve"/>d room as a row.</summary>
    /// <returns>The row's index.</returns>
    public int Commit(int steps)
    {
        if (Count == int.MaxValue)
            throw new InvalidOperationException($"More than {int.MaxValue} sequences do not fit in one training set.");
        if (Count == chunkOf.Length)
        {
            int grown = (int)Math.Min((long)Count * 2, Array.MaxLength);
            Array.Resize(ref chunkOf, grown);
            Array.Resize(ref offsetOf, grown);
            Array.Resize(ref stepsOf, grown);
        }
        chunkOf[Count] = chunks.Count - 1;
        offsetOf[Count] = usedInLastChunk;
        stepsOf[Count] = steps;
        usedInLastChunk += steps * InputSize;
        MinSteps = Math.Min(MinSteps, steps);
        MaxSteps = Math.Max(MaxSteps, steps);
        return Count++;
    }

    public int StepsOf(int row) => stepsOf[row];

    public Span<float> ValuesOf(int row) =>
        new((float*)chunks[chunkOf[row]].Start + offsetOf[row], stepsOf[row] * InputSize);

    /// <summary>The rows <paramref name="rows"/> as one batch, in that order, as tensors of the current dispose scope.</summary>
    public SequenceBatch Gather(long[] rows) => SequenceBatch.Build(InputSize, rows.Length, i => ValuesOf((int)rows[i]));

    public void Dispose()
    {
        foreach (var (start, _) in chunks)
            NativeMemory.Free((void*)start);
        chunks.Clear();
        Count = 0;
    }

}
