using System.Globalization;
using TorchSharp;

namespace MlNetLstm.Network;

/// <summary>
/// Chooses, while training runs, between libtorch's default thread count and one thread by timing
/// batches at each. On an idle 2-core machine the default trains about 1.4 times faster than one thread;
/// when another process keeps a core busy, libtorch's OpenMP team waits at every operation for its
/// thread that is not scheduled, and one thread trains about 3 times faster (MNIST beside one busy loop:
/// 4,944–5,423 against 1,312–1,814 samples/s). libtorch's LSTM training gives the same bits on either
/// count (tested), so switching keeps training repeatable.
/// </summary>
/// <remarks>
/// Speed is measured in windows of batches, in seconds per sequence step (batches of different lengths
/// cost different times); the running count's speed is the median of its last three windows, so one
/// slow moment does not decide. Now and then one window runs on the other count, which is kept when it
/// was faster than that; one thread must be 1.2 times faster than the default's best recent window to
/// replace it, as the default's slow moments on an idle machine would otherwise move batches to it.
/// From the second lost probe in a row each loss doubles the wait before the next (up to
/// <see cref="Settings.MaxProbeEvery"/> windows), so the slower count costs little once the choice is
/// clear; two windows in a row far slower than the best recent one probe at once, as the load on the
/// machine changed.
/// </remarks>
internal sealed class TrainingThreadTuner
{
    /// <summary>
    /// Batches per timed window; windows between probes of the other count (first and most); untimed
    /// batches when a count is first used (threads, kernels and buffers are made) and after each later
    /// change.
    /// </summary>
    internal sealed record Settings(int Window = 8, int ProbeEvery = 8, int MaxProbeEvery = 32, int WarmUp = 10, int Settle = 2);

    private const int WindowsRemembered = 3;
    private const double SlowerThanUsual = 1.5;
    private const double OneThreadMargin = 1.2;

    private readonly int[] counts;
    private readonly List<double>[] recent = [[], []];
    private readonly long[] batchesRun = new long[2];
    private readonly Settings settings;
    private int current;
    private int untimedLeft;
    private int windowBatches;
    private double windowSeconds;
    private long windowSteps;
    private int windowsSinceProbe;
    private int slowWindows;
    private int probeEvery;
    private int probesLost;
    private bool probing;
    private int changes;

    private readonly Action<int> setThreads;

    /// <param name="manyThreads">The count to weigh against one thread.</param>
    /// <param name="settings">Window sizes; the defaults when null.</param>
    /// <param name="setThreads">Applies a count; libtorch's <c>set_num_threads</c> when null.</param>
    internal TrainingThreadTuner(int manyThreads, Settings? settings = null, Action<int>? setThreads = null)
    {
        this.setThreads = setThreads ?? torch.set_num_threads;
        counts = [manyThreads, 1];
        this.settings = settings ?? new Settings();
        untimedLeft = this.settings.WarmUp;
        probeEvery = this.settings.ProbeEvery;
    }

    /// <summary>A tuner when the thread count is the library's choice of several threads; null when the user set it or one thread was chosen.</summary>
    /// <param name="options">The fit's options: a count the user set is kept.</param>
    /// <param name="chosen">The count the library chose.</param>
    /// <param name="setThreads">Applies a count; libtorch's <c>set_num_threads</c> when null.</param>
    public static TrainingThreadTuner? For(LstmClassifierOptions options, int chosen, Action<int>? setThreads = null)
    {
        if (options.ThreadTuning is Settings forced)
            return new TrainingThreadTuner(Math.Max(2, chosen), forced, setThreads);
        return options.NumberOfThreads is null && chosen > 1 ? new TrainingThreadTuner(chosen, setThreads: setThreads) : null;
    }

    /// <summary>The count training runs on now.</summary>
    public int Threads => counts[current];

    /// <summary>
    /// Puts the training thread back on the count it started with, so that a Fit ending while another
    /// still runs does not leave its thread on the count last tried.
    /// </summary>
    public void Finish()
    {
        if (current != 0)
        {
            current = 0;
            setThreads(counts[0]);
        }
    }

    /// <summary>
    /// Records one training batch's duration and its work (the steps of its sequences), and changes
    /// libtorch's thread count when a window ends with that decision.
    /// </summary>
    public void Record(TimeSpan batch, long steps)
    {
        batchesRun[current]++;
        if (untimedLeft > 0)
        {
            untimedLeft--;
            return;
        }
        windowSeconds += batch.TotalSeconds;
        windowSteps += steps;
        if (++windowBatches < settings.Window)
            return;
        double window = windowSeconds / Math.Max(1, windowSteps);
        windowBatches = 0;
        windowSeconds = 0;
        windowSteps = 0;

        int other = 1 - current;
        // Slower than the best of the last windows: a median would soon take in the new pace.
        double usual = Best(current);
        Remember(current, window);
        if (probing)
        {
            probing = false;
            windowsSinceProbe = 0;
            // One thread must clearly beat the best the default did lately: idle, slow moments of the
            // default alone would otherwise move a quarter of the batches to the slower count.
            double needed = counts[current] == 1 ? Best(other) / OneThreadMargin : Speed(other);
            if (window > needed)
            {
                // One slow window (a busy moment) does not settle it: the wait grows from the second loss in a row.
                if (++probesLost >= 2)
                    probeEvery = Math.Min(2 * probeEvery, settings.MaxProbeEvery);
                ChangeTo(other);
            }
            else
            {
                probesLost = 0;
                probeEvery = settings.ProbeEvery;
            }
            return;
        }
        slowWindows = window > SlowerThanUsual * usual ? slowWindows + 1 : 0;
        if (recent[other].Count == 0 || ++windowsSinceProbe >= probeEvery || slowWindows >= 2)
        {
            probing = true;
            slowWindows = 0;
            ChangeTo(other);
        }
    }

    /// <summary>Seconds per step on count <paramref name="index"/>: the median of its last windows (NaN before any).</summary>
    private double Speed(int index)
    {
        var windows = recent[index];
        if (windows.Count == 0)
            return double.NaN;
        // Of two, the faster: slow moments are the exception.
        var sorted = windows.Order().ToArray();
        return sorted[(sorted.Length - 1) / 2];
    }

    /// <summary>Seconds per step of count <paramref name="index"/>'s fastest recent window (NaN before any).</summary>
    private double Best(int index) => recent[index].Count == 0 ? double.NaN : recent[index].Min();

    private void Remember(int index, double window)
    {
        var windows = recent[index];
        if (windows.Count == WindowsRemembered)
            windows.RemoveAt(0);
        windows.Add(window);
    }

    private void ChangeTo(int index)
    {
        current = index;
        changes++;
        // A count's first batches are slow while its threads start and its kernels and buffers are made.
        untimedLeft = batchesRun[index] == 0 ? settings.WarmUp : settings.Settle;
        setThreads(counts[index]);
    }

    /// <summary>For the log: how many batches ran on each count.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{batchesRun[0]:N0} batches on {counts[0]} threads and {batchesRun[1]:N0} on 1 ({changes} changes, chosen by timing windows of {settings.Window} batches)");
}
