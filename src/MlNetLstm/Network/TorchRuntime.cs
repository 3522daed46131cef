using TorchSharp;

namespace MlNetLstm.Network;

/// <summary>
/// libtorch's process-wide intra-op thread count, as training chooses and sets it.
/// </summary>
/// <remarks>
/// In 0.1.0 this also turned on libtorch's huge-page allocations (<c>THP_MEM_ALLOC_ENABLE=1</c>) to
/// cut the cost of the large work buffers LSTM training allocates on every batch. Training now keeps
/// those buffers small enough to be reused (<see cref="Training.TrainingPasses"/>), and huge pages then
/// made it slower, so libtorch's allocation settings are left as the environment gives them.
/// </remarks>
internal static class TorchRuntime
{
    /// <summary>
    /// Multiply-adds of one LSTM step of a batch below which training runs on one thread by default:
    /// measured on 2 cores, smaller steps ran slower on 2 threads than on 1 even on an idle machine
    /// (thread hand-offs cost more than they save), and several times slower on a busy one.
    /// </summary>
    internal const long SmallStepMultiplyAdds = 8_000_000;

    /// <summary>
    /// The intra-op threads training uses: <paramref name="requested"/> when set; otherwise one for a
    /// small step, and libtorch's own default (one per core) for a larger one.
    /// </summary>
    public static int TrainingThreads(int? requested, NetworkShape shape, int batchSize)
    {
        if (requested is int threads)
            return threads;
        long step = (long)batchSize * 4 * shape.HiddenSize * (shape.InputSize + shape.HiddenSize);
        return step < SmallStepMultiplyAdds ? 1 : DefaultThreads.Value;
    }

    /// <summary>
    /// The threads the fused kernel trains on: <paramref name="requested"/> when set; otherwise one per
    /// core, but no more than a batch has partitions to share.
    /// </summary>
    public static int FusedTrainingThreads(int? requested, int batchSize)
    {
        if (requested is int threads)
            return threads;
        return Math.Max(1, Math.Min(DefaultThreads.Value, Fused.FusedLstmKernel.PartitionsFor(batchSize)));
    }

    /// <summary>
    /// Runs <paramref name="work"/> with libtorch's intra-op thread count set (it is process-wide), and
    /// restores the count the process had once the last of any concurrent runs ends. Concurrent fits
    /// asking for different counts share whichever was set last.
    /// </summary>
    public static T WithThreads<T>(int threads, Func<T> work)
    {
        lock (ThreadGate)
        {
            if (threadUsers++ == 0)
                threadsBefore = torch.get_num_threads();
            torch.set_num_threads(threads);
        }
        try
        {
            return work();
        }
        finally
        {
            lock (ThreadGate)
            {
                if (--threadUsers == 0)
                    torch.set_num_threads(threadsBefore);
            }
        }
    }

    private static readonly object ThreadGate = new();
    private static int threadUsers;
    private static int threadsBefore;

    // libtorch's choice, read once before this library changes it.
    private static readonly Lazy<int> DefaultThreads = new(() =>
    {
        lock (ThreadGate)
            return threadUsers == 0 ? torch.get_num_threads() : threadsBefore;
    });
}
