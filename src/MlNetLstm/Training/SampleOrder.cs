namespace MlNetLstm.Training;

/// <summary>
/// An endless stream of row indices: a seeded shuffle of all rows, reshuffled each time it runs out, so
/// every batch is full and every row is seen once per epoch. When rows differ in length, each window of
/// a few dozen batches is sorted by length and its batches are served in random order, so a batch holds
/// rows of similar length and packing it wastes little.
/// </summary>
internal sealed class SampleOrder
{
    private const int BatchesPerWindow = 32;

    private readonly Random random;
    private readonly long[] permutation;
    private readonly int batchSize;
    private readonly int[]? lengths;
    private int next;

    /// <param name="rowCount">Rows to draw from.</param>
    /// <param name="seed">Seed of the shuffles.</param>
    /// <param name="batchSize">Rows per batch, the unit the length grouping works in.</param>
    /// <param name="lengths">Each row's length when they differ; null when they are all equal.</param>
    public SampleOrder(int rowCount, int seed, int batchSize, int[]? lengths = null)
    {
        random = new Random(seed);
        permutation = new long[rowCount];
        for (int i = 0; i < rowCount; i++)
            permutation[i] = i;
        this.batchSize = batchSize;
        this.lengths = lengths;
        next = rowCount;
    }

    public void Fill(Span<long> batch)
    {
        for (int i = 0; i < batch.Length; i++)
        {
            if (next == permutation.Length)
            {
                // The rows still missing from this batch come first, so later batches align with the windows.
                Reshuffle(alignment: (batch.Length - i) % batchSize);
                next = 0;
            }
            batch[i] = permutation[next++];
        }
    }

    private void Reshuffle(int alignment)
    {
        random.Shuffle(permutation);
        if (lengths is null)
            return;
        int window = batchSize * BatchesPerWindow;
        var batchOrder = new int[BatchesPerWindow];
        var sorted = new long[window];
        for (int start = Math.Min(alignment, permutation.Length); start < permutation.Length; start += window)
        {
            var rows = permutation.AsSpan(start, Math.Min(window, permutation.Length - start));
            // Stable: rows of equal length keep their shuffled order.
            var byLength = rows.ToArray().OrderBy(row => lengths[row]).ToArray();
            int batches = (rows.Length + batchSize - 1) / batchSize;
            for (int b = 0; b < batches; b++)
                batchOrder[b] = b;
            // A partial batch stays last, so every full batch keeps its place in the batch grid.
            random.Shuffle(batchOrder.AsSpan(0, rows.Length / batchSize));
            int at = 0;
            foreach (int b in batchOrder.AsSpan(0, batches))
            {
                int from = b * batchSize, count = Math.Min(batchSize, rows.Length - from);
                byLength.AsSpan(from, count).CopyTo(sorted.AsSpan(at));
                at += count;
            }
            sorted.AsSpan(0, rows.Length).CopyTo(rows);
        }
    }
}
