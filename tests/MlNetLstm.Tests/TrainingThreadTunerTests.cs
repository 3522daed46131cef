using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetLstm.Network;

namespace MlNetLstm.Tests;

/// <summary>
/// The default thread count's choice between libtorch's many threads and one, made by timing batches:
/// its decisions on simulated timings, and that switching while training changes no result.
/// </summary>
public class TrainingThreadTunerTests
{
    private const long StepsPerBatch = 128 * 28;

    /// <summary>
    /// Runs <paramref name="batches"/> batches whose seconds per step come from <paramref name="speed"/>(threads, batch),
    /// the first <paramref name="slowAfterChange"/> batches after each change of count 5 times slower; returns the threads of every batch.
    /// </summary>
    private static List<int> Simulate(TrainingThreadTuner tuner, int batches, Func<int, int, double> speed, int start = 0, int slowAfterChange = 0)
    {
        var threads = new List<int>(batches);
        int slowLeft = 0;
        for (int batch = start; batch < start + batches; batch++)
        {
            if (threads.Count > 0 && threads[^1] != tuner.Threads)
                slowLeft = slowAfterChange;
            threads.Add(tuner.Threads);
            double seconds = speed(tuner.Threads, batch) * (slowLeft-- > 0 ? 5 : 1);
            tuner.Record(TimeSpan.FromSeconds(seconds * StepsPerBatch), StepsPerBatch);
        }
        return threads;
    }

    private static double Idle(int threads, int batch) => threads == 1 ? 6e-6 : 4e-6;

    private static double Busy(int threads, int batch) => threads == 1 ? 6e-6 : 14e-6;

    [Test]
    public void OnAnIdleMachineTheManyThreadsAreKept()
    {
        var applied = new List<int>();
        var tuner = new TrainingThreadTuner(2, setThreads: applied.Add);
        var threads = Simulate(tuner, 800, Idle);
        Assert.That(threads.Count(t => t == 2), Is.GreaterThan(0.85 * threads.Count), string.Join(",", threads));
        Assert.That(applied, Is.Not.Empty, "the count is applied through libtorch");
        Assert.That(applied, Does.Contain(1).And.Contain(2));
    }

    [Test]
    public void OnABusyMachineOneThreadTrainsAndTheManyAreRarelyTried()
    {
        var tuner = new TrainingThreadTuner(2, setThreads: _ => { });
        var threads = Simulate(tuner, 1_000, Busy);
        Assert.That(threads.Count(t => t == 2), Is.LessThan(0.08 * threads.Count), "a losing count is probed less and less often");
    }

    [Test]
    public void WhenTheMachineBecomesBusyOneThreadTakesOverWithinAFewWindows()
    {
        var tuner = new TrainingThreadTuner(2, setThreads: _ => { });
        Assert.That(Simulate(tuner, 600, Idle).Skip(300).Count(t => t == 2), Is.GreaterThan(0.85 * 300));
        var threads = Simulate(tuner, 200, Busy, start: 600);
        int firstOnOne = threads.IndexOf(1);
        Assert.That(firstOnOne, Is.InRange(0, 40), "two slow windows in a row probe at once");
        Assert.That(threads.Skip(firstOnOne).Count(t => t == 1), Is.GreaterThan(0.7 * (threads.Count - firstOnOne)));

        // And back when the other process ends.
        var after = Simulate(tuner, 600, Idle, start: 800);
        Assert.That(after.Skip(300).Count(t => t == 2), Is.GreaterThan(0.85 * 300));
    }

    [Test]
    public void TheSlowFirstBatchesAfterAChangeAreNotTimed()
    {
        // Busy, then idle again: the many threads must win their probe although each change costs slow
        // first batches (threads starting, kernels made).
        var settings = new TrainingThreadTuner.Settings();
        var tuner = new TrainingThreadTuner(2, settings, _ => { });
        Assert.That(Simulate(tuner, 400, Busy).Skip(200).Count(t => t == 1), Is.GreaterThan(0.8 * 200));
        var after = Simulate(tuner, 600, Idle, start: 400, slowAfterChange: settings.Settle);
        Assert.That(after.Skip(300).Count(t => t == 2), Is.GreaterThan(0.85 * 300), string.Join("", after));
    }

    [Test]
    public void OneSlowMomentDoesNotSettleTheChoice()
    {
        // The first timed window on many threads (after their warm-up) is hit by a slow moment, so one
        // thread wins the first probe; the many threads are tried again as usual, and win back.
        var settings = new TrainingThreadTuner.Settings();
        var tuner = new TrainingThreadTuner(2, settings, _ => { });
        int batchesOnTwo = 0;
        var threads = Simulate(tuner, 600, (t, batch) =>
        {
            if (t == 2 && batchesOnTwo++ is var n && n >= settings.WarmUp && n < settings.WarmUp + settings.Window)
                return 20e-6;
            return Idle(t, batch);
        });
        int firstOnOne = threads.IndexOf(1);
        int backOnTwo = threads.IndexOf(2, firstOnOne);
        Assert.That(backOnTwo - firstOnOne, Is.LessThanOrEqualTo((settings.ProbeEvery + 2) * settings.Window + 2 * settings.Settle), string.Join("", threads));
        Assert.That(threads.Skip(300).Count(t => t == 2), Is.GreaterThan(0.85 * 300), string.Join("", threads));
    }

    [Test]
    public void OneThreadMustWinClearlyToReplaceTheDefault()
    {
        // Within noise of each other: the default stays.
        var tuner = new TrainingThreadTuner(2, setThreads: _ => { });
        var threads = Simulate(tuner, 600, (t, batch) => t == 1 ? 4.0e-6 : 4.2e-6);
        Assert.That(threads.Count(t => t == 2), Is.GreaterThan(0.85 * threads.Count));
    }

    [Test]
    public void FinishingPutsTheThreadBackOnTheStartingCount()
    {
        var applied = new List<int>();
        var tuner = new TrainingThreadTuner(2, setThreads: applied.Add);
        var threads = Simulate(tuner, 300, Busy);
        Assume.That(threads[^1], Is.EqualTo(1), "the simulation ends on one thread");
        tuner.Finish();
        Assert.That(tuner.Threads, Is.EqualTo(2));
        Assert.That(applied[^1], Is.EqualTo(2));
    }

    [Test]
    public void AChosenOrSingleThreadCountIsNotTuned()
    {
        Assert.That(TrainingThreadTuner.For(new LstmClassifierOptions { NumberOfThreads = 2 }, 2), Is.Null);
        Assert.That(TrainingThreadTuner.For(new LstmClassifierOptions(), 1), Is.Null);
        Assert.That(TrainingThreadTuner.For(new LstmClassifierOptions(), 2), Is.Not.Null);
    }

    private static readonly TrainingThreadTuner.Settings EveryBatch = new(Window: 1, ProbeEvery: 1, MaxProbeEvery: 1, WarmUp: 0, Settle: 0);

    [Test]
    public void SwitchingThreadsWhileTrainingGivesTheSameModelAsOneThread()
    {
        var data = SyntheticSequences.Load(new MLContext(1), 200, 3);
        var options = SyntheticSequences.QuickOptions();
        options.TrainingSamples = 1_600;
        AssertSameModelWhileSwitching(options, mlContext => VariableSequences.Keyer(mlContext).Transform(data));
    }

    [Test]
    public void SwitchingThreadsWhileTrainingPackedStackedSequencesGivesTheSameModelAsOneThread()
    {
        var rows = VariableSequences.Make(200, 5);
        var options = VariableSequences.Options();
        options.NumberOfLayers = 2;
        options.Bidirectional = true;
        options.Dropout = 0.2;
        AssertSameModelWhileSwitching(options, mlContext => VariableSequences.Keyer(mlContext).Transform(mlContext.Data.LoadFromEnumerable(rows)));
    }

    [Test]
    public void SwitchingThreadsWhileTrainingAtTheReferenceShapeGivesTheSameModelAsOneThread([Values] bool fusedKernel)
    {
        // Hidden 128 and batch 128, as the MNIST reference: matrix products large enough for libtorch to split.
        var data = SyntheticSequences.Load(new MLContext(1), 256, 4);
        var options = SyntheticSequences.QuickOptions();
        options.FusedKernel = fusedKernel;
        options.HiddenSize = 128;
        options.BatchSize = 128;
        options.TrainingSamples = 1_280;
        AssertSameModelWhileSwitching(options, mlContext => VariableSequences.Keyer(mlContext).Transform(data));
    }

    private static void AssertSameModelWhileSwitching(LstmClassifierOptions options, Func<MLContext, IDataView> load)
    {
        var oneThread = new MLContext(1);
        options.NumberOfThreads = 1;
        var data = load(oneThread);
        using var reference = oneThread.Transforms.LstmClassifier(options).Fit(data);

        var switching = new MLContext(1);
        var log = LogCapture.Collect(switching, "] Threads: ");
        options.NumberOfThreads = null;
        options.ThreadTuning = EveryBatch;
        using var tuned = switching.Transforms.LstmClassifier(options).Fit(load(switching));

        Assert.That(log, Has.Count.EqualTo(1));
        Assert.That(log[0], Does.Match(@"Threads: [1-9][\d,]* batches on 2 threads and [1-9][\d,]* on 1 \([1-9]\d* changes"));
        var expected = reference.Transform(data).GetColumn<float[]>("Score").Select(ScoreText.Format).ToArray();
        var actual = tuned.Transform(data).GetColumn<float[]>("Score").Select(ScoreText.Format).ToArray();
        Assert.That(actual, Is.EqualTo(expected), "libtorch's LSTM training must give the same bits on one thread and on two");
    }
}
