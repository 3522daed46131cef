using System.Runtime.ExceptionServices;
using MlNetLstm.Network;
using TorchSharp;

namespace MlNetLstm.Scoring;

/// <summary>
/// Threads of the library's own that score forward passes side by side, each pass on one libtorch thread.
/// </summary>
/// <remarks>
/// One large pass on libtorch's threads synchronises them at every step of the sequence; separate passes
/// on single threads never wait for each other. Measured on 2 cores (MNIST network, 1,024 rows per
/// batch): 33,300 rows/s as one pass on 2 threads, 37,700–40,600 as two passes on one thread each.
/// The threads belong to the library because the one-thread setting stays with a thread. They end after
/// <see cref="IdleLifetime"/> without work: idle threads known to OpenMP make it stop spinning between
/// parallel regions (it counts them against the cores), and single-row predictions on libtorch's own
/// threads then ran 2–4× slower. Threads started afresh for every batch cost memory instead: each new
/// thread got a fresh allocator arena, and resident memory grew by 19 % over 20 passes of the test set.
/// </remarks>
internal static class ScoringWorkers
{
    private static readonly Lazy<bool> Available = new(ProbeOneThreadSetting);
    private static long passesOnWorkers;

    /// <summary>Passes the workers have run since the process started (tests observe the split).</summary>
    internal static long PassesOnWorkers => Interlocked.Read(ref passesOnWorkers);

    /// <summary>
    /// How many passes a batch is worth splitting into for the calling thread: libtorch's thread count
    /// there (the user's own setting is kept), up to the number of cores; 1 to score inline.
    /// </summary>
    public static int Parallelism
    {
        get
        {
            int threads = Math.Min(torch.get_num_threads(), Environment.ProcessorCount);
            return threads > 1 && Available.Value ? threads : 1;
        }
    }

    /// <summary>
    /// Runs <paramref name="pass"/> for every index below <paramref name="count"/>, on up to
    /// <paramref name="parallelism"/> threads of one libtorch thread each when there is more than one pass
    /// (inline otherwise). Returns as soon as the passes are handed to the workers, so the caller can read
    /// its next batch meanwhile; <see cref="Passes.Wait"/> waits for them all and rethrows the first
    /// exception. Passes run inline are over on return.
    /// </summary>
    public static Passes Start(int count, int parallelism, Action<int> pass)
    {
        // A pass that scores again runs inline: workers waiting on workers could all be waiting.
        bool inline = count == 1 || parallelism <= 1 || isWorker || !Available.Value;
        var passes = new Passes(count, onWorkers: !inline);
        if (inline)
        {
            for (int i = 0; i < count; i++)
                passes.Run(pass, i);
            return passes;
        }
        Interlocked.Add(ref passesOnWorkers, count);
        lock (Gate)
        {
            for (int i = 0; i < count; i++)
            {
                int index = i;
                Work.Enqueue(() => passes.Run(pass, index));
            }
            Monitor.PulseAll(Gate);
            // Idle workers take the passes first; new ones start up to the parallelism asked for.
            while (liveWorkers < Math.Min(parallelism, count))
            {
                liveWorkers++;
                // UnsafeStart: the worker outlives this call and must not carry the caller's execution context.
                new Thread(ServeUntilIdle) { IsBackground = true, Name = "MlNetLstm scoring" }.UnsafeStart();
            }
        }
        return passes;
    }

    /// <summary>Passes handed out by <see cref="Start"/>: their end, and the first failure among them.</summary>
    public sealed class Passes(int count, bool onWorkers)
    {
        private readonly CountdownEvent remaining = new(count);
        private ExceptionDispatchInfo? failure;

        /// <summary>Whether the passes went to the workers; false: they ran inline and are over.</summary>
        public bool OnWorkers { get; } = onWorkers;

        internal void Run(Action<int> pass, int index)
        {
            try
            {
                pass(index);
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref failure, ExceptionDispatchInfo.Capture(e), null);
            }
            finally
            {
                remaining.Signal();
            }
        }

        /// <summary>Waits for every pass; rethrows the first exception. Safe to call more than once.</summary>
        public void Wait()
        {
            remaining.Wait();
            failure?.Throw();
        }
    }

    private static readonly object Gate = new();
    private static readonly Queue<Action> Work = new();
    private static int liveWorkers;

    /// <summary>
    /// How long a worker waits for the next pass before it ends: long enough to serve every batch of a
    /// cursor (and keep its memory arena warm), short enough that the threads are gone soon after.
    /// </summary>
    internal static readonly TimeSpan IdleLifetime = TimeSpan.FromMilliseconds(200);

    [ThreadStatic]
    private static bool isWorker;

    private static void ServeUntilIdle()
    {
        isWorker = true;
        OpenMpThreads.TryUseOneThreadOnThisThread();
        while (true)
        {
            Action next;
            lock (Gate)
            {
                while (Work.Count == 0)
                {
                    if (!Monitor.Wait(Gate, IdleLifetime) && Work.Count == 0)
                    {
                        liveWorkers--;
                        return;
                    }
                }
                next = Work.Dequeue();
            }
            next();
        }
    }

    /// <summary>Workers alive now, idle or busy (tests observe that they end).</summary>
    internal static int LiveWorkers
    {
        get
        {
            lock (Gate)
                return liveWorkers;
        }
    }

    private static bool ProbeOneThreadSetting()
    {
        bool available = false;
        var probe = new Thread(() =>
        {
            try
            {
                available = OpenMpThreads.TryUseOneThreadOnThisThread();
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or TypeInitializationException)
            {
                available = false; // the one-thread setting is not available: score inline
            }
        }) { IsBackground = true, Name = "MlNetLstm scoring probe" };
        probe.Start();
        probe.Join();
        return available;
    }
}
