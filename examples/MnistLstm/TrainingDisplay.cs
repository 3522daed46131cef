using MlNetLstm;
using Spectre.Console;

namespace MnistLstm;

/// <summary>
/// Shows training as it runs: the reference's "Iter N, Minibatch Loss= …" line every display step and,
/// on a terminal, a live progress bar with ETA below those lines. Keeps every report for the plot.
/// </summary>
public sealed class TrainingDisplay(IAnsiConsole console, bool live)
{
    public List<LstmTrainingProgress> History { get; } = [];

    /// <summary>Runs <paramref name="train"/>, giving it the progress receiver to put in the options.</summary>
    public T Run<T>(Func<IProgress<LstmTrainingProgress>, T> train)
    {
        if (!live)
            return train(new Receiver(Record));

        return console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(),
                new ElapsedTimeColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(context =>
            {
                var task = context.AddTask("Training");
                return train(new Receiver(report =>
                {
                    Record(report);
                    task.MaxValue = report.TotalBatches;
                    task.Value = report.Batch;
                    task.Description = FormattableString.Invariant($"Training  loss {report.MinibatchLoss:F3}  acc {report.MinibatchAccuracy:F3}");
                }));
            });
    }

    private void Record(LstmTrainingProgress report)
    {
        History.Add(report);
        // Under the live bar, lines must go through Spectre so they print above it.
        if (live)
            console.WriteLine(report.ToString());
        else
            Console.Out.WriteLine(report.ToString());
    }

    // Progress<T> would post to the thread pool; the library reports on the training thread, so
    // handle each report right there, in order.
    private sealed class Receiver(Action<LstmTrainingProgress> handle) : IProgress<LstmTrainingProgress>
    {
        public void Report(LstmTrainingProgress value) => handle(value);
    }
}
