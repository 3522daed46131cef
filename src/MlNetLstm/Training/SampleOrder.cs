namespace MlNetLstm.Training;

/// <summary>
/// An endless stream of row indices: a seeded shuffle of all rows, reshuffled each time it runs out, so
/// every batch is full and every row is seen once per epoch.
/// </summary>
internal sealed class SampleOrder
{
    private readonly Random random;
    private readonly long[] permutation;
    private int next;

    public SampleOrder(int rowCount, int seed)
    {
        random = new Random(seed);
        permutation = new long[rowCount];
        for (int i = 0; i < rowCount; i++)
            permutation[i] = i;
        next = rowCount;
    }

    public void Fill(Span<long> batch)
    {
        for (int i = 0; i < batch.Length; i++)
        {
            if (next == permutation.Length)
            {
                random.Shuffle(permutation);
                next = 0;
            }
            batch[i] = permutation[next++];
        }
    }
}
