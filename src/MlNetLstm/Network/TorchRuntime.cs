using System.Runtime.InteropServices;
using TorchSharp;

namespace MlNetLstm.Network;

/// <summary>
/// Process-wide libtorch settings applied before this library creates its first tensor.
/// </summary>
/// <remarks>
/// Training an LSTM through oneDNN allocates two work buffers of about 36 MB per batch. Above glibc's
/// mmap threshold (32 MB at most) each is mapped fresh and every page is faulted in and zeroed by the
/// kernel — measured at roughly a third of the training time on MNIST. libtorch's
/// <c>THP_MEM_ALLOC_ENABLE=1</c> backs allocations of 2 MB and more with transparent huge pages, which
/// removes most of that cost (about 5,500 → 8,000 samples/s here) without changing any result.
/// libtorch reads the variable once, at its first allocation, so it is set as early as possible and
/// only where the user has not set it: <c>THP_MEM_ALLOC_ENABLE=0</c> in the environment opts out.
/// </remarks>
internal static class TorchRuntime
{
    private const string HugePagesVariable = "THP_MEM_ALLOC_ENABLE";
    private static readonly Lazy<bool> Configured = new(Configure, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Applies the settings once; concurrent callers wait until they are in place.</summary>
    public static void EnsureConfigured() => _ = Configured.Value;

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
    /// Runs <paramref name="work"/> with libtorch's intra-op thread count set (it is process-wide), and
    /// restores the count the process had once the last of any concurrent runs ends. Concurrent fits
    /// asking for different counts share whichever was set last.
    /// </summary>
    public static T WithThreads<T>(int threads, Func<T> work)
    {
        EnsureConfigured();
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
        EnsureConfigured();
        lock (ThreadGate)
            return threadUsers == 0 ? torch.get_num_threads() : threadsBefore;
    });

    private static bool Configure()
    {
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable(HugePagesVariable) is not null)
            return false;
        try
        {
            // .NET keeps its own copy of the environment; libtorch reads the C library's.
            return NativeEnvironment.setenv(HugePagesVariable, "1", overwrite: 0) == 0;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false; // a C library without setenv: keep libtorch's defaults
        }
    }

    private static class NativeEnvironment
    {
        [DllImport("libc", CharSet = CharSet.Ansi)]
        public static extern int setenv(string name, string value, int overwrite);
    }
}
