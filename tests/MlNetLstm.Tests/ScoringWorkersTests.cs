using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetLstm.Scoring;
using TorchSharp;

namespace MlNetLstm.Tests;

/// <summary>
/// Large batches are scored as several passes side by side on the library's own threads, one libtorch
/// thread each; the scores are those of one pass, and the process's thread settings are left alone.
/// </summary>
public class ScoringWorkersTests
{
    private static readonly MLContext Context = new(seed: 1);

    private static void NeedsSeveralCores()
    {
        if (Environment.ProcessorCount < 2 || torch.get_num_threads() < 2)
            Assert.Ignore("scoring on several threads needs at least 2 cores and libtorch threads");
    }

    private static void WaitForIdleWorkersToEnd()
    {
        var deadline = DateTime.UtcNow + ScoringWorkers.IdleLifetime * 10;
        while (ScoringWorkers.LiveWorkers > 0 && DateTime.UtcNow < deadline)
            Thread.Sleep(20);
    }

    [Test]
    public void PassesRunOnWorkerThreadsWithOneLibtorchThreadEach()
    {
        NeedsSeveralCores();
        int threadsBefore = torch.get_num_threads();
        var seen = new (string? Name, int Threads)[6];
        ScoringWorkers.Start(seen.Length, parallelism: 2, i => seen[i] = (Thread.CurrentThread.Name, torch.get_num_threads())).Wait();

        Assert.That(seen.Select(s => s.Name), Has.All.StartsWith("MlNetLstm scoring"));
        Assert.That(seen.Select(s => s.Threads), Has.All.EqualTo(1));
        // Only the workers changed: the caller, and a thread that starts now, keep the process's count.
        Assert.That(torch.get_num_threads(), Is.EqualTo(threadsBefore));
        int freshThreadCount = 0;
        var fresh = new Thread(() => freshThreadCount = torch.get_num_threads());
        fresh.Start();
        fresh.Join();
        Assert.That(freshThreadCount, Is.EqualTo(threadsBefore));
    }

    [Test]
    public void WorkersServeConsecutiveBatchesAndEndOnceIdle()
    {
        NeedsSeveralCores();
        WaitForIdleWorkersToEnd();
        var threads = new HashSet<int>();
        for (int batch = 0; batch < 5; batch++)
            ScoringWorkers.Start(4, parallelism: 2, _ => { lock (threads) threads.Add(Environment.CurrentManagedThreadId); }).Wait();
        Assert.That(threads, Has.Count.LessThanOrEqualTo(2), "the same threads served every batch");

        WaitForIdleWorkersToEnd();
        Assert.That(ScoringWorkers.LiveWorkers, Is.Zero, "idle workers end");
    }

    [Test]
    public void APassThatScoresAgainRunsItInlineOnItsWorker()
    {
        NeedsSeveralCores();
        var nested = new int[4];
        ScoringWorkers.Start(2, parallelism: 2, outer =>
        {
            int worker = Environment.CurrentManagedThreadId;
            ScoringWorkers.Start(2, parallelism: 2, inner => nested[outer * 2 + inner] = Environment.CurrentManagedThreadId == worker ? 1 : -1).Wait();
        }).Wait();
        Assert.That(nested, Has.All.EqualTo(1));
    }

    [Test]
    public void OnePassOrParallelismOneRunsInlineOnTheCaller()
    {
        var caller = Environment.CurrentManagedThreadId;
        var seen = new List<int>();
        ScoringWorkers.Start(1, parallelism: 2, _ => seen.Add(Environment.CurrentManagedThreadId)).Wait();
        ScoringWorkers.Start(3, parallelism: 1, _ => seen.Add(Environment.CurrentManagedThreadId)).Wait();
        Assert.That(seen, Has.Count.EqualTo(4).And.All.EqualTo(caller));
    }

    [Test]
    public void AFailingPassIsRethrownOnceEveryPassHasEnded()
    {
        int ended = 0;
        var error = Assert.Throws<InvalidOperationException>(() => ScoringWorkers.Start(5, parallelism: 2, i =>
        {
            if (i == 1)
                throw new InvalidOperationException("pass 1 failed");
            Thread.Sleep(20);
            Interlocked.Increment(ref ended);
        }).Wait());
        Assert.That(error!.Message, Is.EqualTo("pass 1 failed"));
        Assert.That(ended, Is.EqualTo(4));
        // The next batch is scored as usual.
        int ran = 0;
        ScoringWorkers.Start(4, parallelism: 2, _ => Interlocked.Increment(ref ran)).Wait();
        Assert.That(ran, Is.EqualTo(4));
    }

    [Test]
    public void ABatchSplitOverWorkersScoresExactlyAsOnePassOnTheCaller()
    {
        NeedsSeveralCores();
        var data = TrainedModel.TestData;
        long passesBefore = ScoringWorkers.PassesOnWorkers;
        var shared = Scores(TrainedModel.Model, data);
        Assert.That(ScoringWorkers.PassesOnWorkers - passesBefore, Is.GreaterThanOrEqualTo(2), "the batch was split over the workers");
        passesBefore = ScoringWorkers.PassesOnWorkers;
        var inline = WithProcessThreads(1, () => Scores(TrainedModel.Model, data));
        Assert.That(ScoringWorkers.PassesOnWorkers, Is.EqualTo(passesBefore), "one libtorch thread: scored inline");
        Assert.That(shared, Is.EqualTo(inline));
    }

    [Test]
    public void VariableLengthRowsSplitOverWorkersScoreExactlyAsInline()
    {
        NeedsSeveralCores();
        var keyed = VariableSequences.Keyer(Context).Transform(Context.Data.LoadFromEnumerable(VariableSequences.Make(400, 1)));
        using var model = Context.Transforms.LstmClassifier(VariableSequences.Options()).Fit(keyed);
        var test = VariableSequences.Keyer(Context).Transform(Context.Data.LoadFromEnumerable(VariableSequences.Make(300, 2)));

        long passesBefore = ScoringWorkers.PassesOnWorkers;
        var shared = Scores(model, test);
        Assert.That(ScoringWorkers.PassesOnWorkers - passesBefore, Is.GreaterThanOrEqualTo(2), "the batch was split over the workers");
        var inline = WithProcessThreads(1, () => Scores(model, test));
        Assert.That(shared, Is.EqualTo(inline));
    }

    [TestCase(true)]
    [TestCase(false)]
    public void ABatchIsSplitIntoPassesOfEqualSize(bool fusedKernel)
    {
        var options = VariableSequences.Options();
        options.FusedKernel = fusedKernel;
        options.TrainingSamples = 64;
        var keyed = VariableSequences.Keyer(Context).Transform(Context.Data.LoadFromEnumerable(VariableSequences.Make(100, 1)));
        using var model = Context.Transforms.LstmClassifier(options).Fit(keyed);
        bool libtorch = !(fusedKernel && MlNetLstm.Network.Fused.FusedLstmKernel.IsSupported);
        // 256 steps: through libtorch a pass's work budget holds 399 such rows, so 1,024 rows need 3 passes.
        const int steps = 256;
        using var batch = model.Scorer.CreateBatch(BatchScorer.MaxBatchRows);
        var row = new VBuffer<float>(steps * VariableSequences.Channels, Enumerable.Range(0, steps * VariableSequences.Channels).Select(i => (float)Math.Sin(i)).ToArray());
        while (batch.Count < BatchScorer.MaxBatchRows)
            batch.Add(row);

        var sizes = batch.Groups(sharedPasses: 2).Select(g => g.Rows.Length).ToArray();

        // Libtorch: 3 passes by the budget, rounded up to 4 of 256 rows (not 399, 399 and a short 226 that
        // would run alone at the end). The fused kernel's memory does not grow with rows, and it is cut into
        // passes of at most 128 rows that the workers share by speed: 8 passes of 128.
        Assert.That(sizes, Is.EqualTo(libtorch ? new[] { 256, 256, 256, 256 } : Enumerable.Repeat(BatchScorer.FusedPassRows, 8).ToArray()));
        // Scored inline the kernel's batch stays one pass: there is nothing to share.
        if (!libtorch)
            Assert.That(batch.Groups(sharedPasses: 1).Select(g => g.Rows.Length), Is.EqualTo(new[] { BatchScorer.MaxBatchRows }));
    }

    private static string[] Scores(ITransformer model, IDataView data)
    {
        var scored = model.Transform(data);
        return scored.GetColumn<float[]>("Score").Zip(scored.GetColumn<uint>("PredictedLabel"), (s, k) => $"{ScoreText.Format(s)} {k}").ToArray();
    }

    private static T WithProcessThreads<T>(int threads, Func<T> work)
    {
        int before = torch.get_num_threads();
        torch.set_num_threads(threads);
        try
        {
            return work();
        }
        finally
        {
            torch.set_num_threads(before);
        }
    }
}
