using System.Runtime.ExceptionServices;

namespace MlNetLstm.Network.Fused;

/// <summary>
/// The threads that share a batch's partitions: the caller and up to <see cref="Threads"/> − 1 workers
/// that live as long as this object (one training run). Each Run hands work over once and joins once;
/// every thread claims the next unclaimed partition until none is left. Idle workers block on a
/// semaphore instead of spinning, so another process on the machine gets the core.
/// </summary>
internal sealed class PartitionWorkers : IDisposable
{
    private readonly List<Worker> workers = [];
    private Action<int, int>? body;
    private int partitionCount;
    private int nextPartition;
    private Exception? failure;
    private bool disposed;
    private int threads;

    public PartitionWorkers(int threads) => Threads = threads;

    /// <summary>Threads a Run uses at most, the caller's included; at least 1.</summary>
    public int Threads
    {
        get => threads;
        set => threads = Math.Max(1, value);
    }

    /// <summary>
    /// Calls <c>body(partition, thread)</c> once for each partition in [0, <paramref name="partitions"/>),
    /// where thread numbers 0 (the caller) to Threads − 1 never run two partitions at once.
    /// </summary>
    public void Run(int partitions, Action<int, int> work)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        int helpers = Math.Min(threads, partitions) - 1;
        body = work;
        partitionCount = partitions;
        nextPartition = 0;
        failure = null;
        while (workers.Count < helpers)
            workers.Add(new Worker(this, workers.Count + 1));
        for (int i = 0; i < helpers; i++)
            workers[i].Start.Release();
        try
        {
            Claim(0);
        }
        finally
        {
            for (int i = 0; i < helpers; i++)
                workers[i].Done.Wait();
            body = null;
        }
        if (failure is Exception error)
            ExceptionDispatchInfo.Capture(error).Throw();
    }

    private void Claim(int thread)
    {
        for (int partition; (partition = Interlocked.Increment(ref nextPartition) - 1) < partitionCount;)
        {
            try
            {
                body!(partition, thread);
            }
            catch (Exception error)
            {
                Interlocked.CompareExchange(ref failure, error, null);
                // No further partitions start once one has failed.
                Interlocked.Exchange(ref nextPartition, partitionCount);
            }
        }
    }

    public void Dispose()
    {
        if (disposed)
            return;
        disposed = true;
        foreach (var worker in workers)
            worker.Start.Release();
        foreach (var worker in workers)
            worker.Thread.Join();
        foreach (var worker in workers)
        {
            worker.Start.Dispose();
            worker.Done.Dispose();
        }
        workers.Clear();
    }

    private sealed class Worker
    {
        public readonly SemaphoreSlim Start = new(0);
        public readonly SemaphoreSlim Done = new(0);
        public readonly Thread Thread;

        public Worker(PartitionWorkers owner, int number)
        {
            Thread = new Thread(() =>
            {
                while (true)
                {
                    Start.Wait();
                    if (owner.disposed)
                        return;
                    owner.Claim(number);
                    Done.Release();
                }
            })
            { IsBackground = true, Name = $"MlNetLstm training {number}" };
            Thread.UnsafeStart();
        }
    }
}
