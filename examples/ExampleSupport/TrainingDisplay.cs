using MlNetLstm;
using Spectre.Console;

namespace ExampleSupport;

/// <summary>
/// Shows training as it runs: the reference's "Iter N, Minibatch Loss= …" line (with the validation loss
/// and accuracy when there is validation data) at every report and, on a terminal, a live progress bar
/// with ETA below those lines. Keeps every report for the plot.
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
                var result = train(new Receiver(report =>
                {
                    Record(report);
                    task.MaxValue = report.TotalBatches;
                    task.Value = report.Batch;
                    task.Description = Describe(report);
                }));
                // Early stopping ends before the budget: fill the bar rather than leave it hanging at 30 %.
                if (History.Count > 0 && History[^1].Batch < History[^1].TotalBatches)
                    task.Description += FormattableString.Invariant($"  (stopped early, epoch {History[^1].Epoch:0.#})");
                task.Value = task.MaxValue;
                return result;
            });
    }

    private static string Describe(LstmTrainingProgress report)
    {
        var text = FormattableString.Invariant($"Training  loss {report.MinibatchLoss:F3}  acc {report.MinibatchAccuracy:F3}");
        if (report.ValidationLoss is double loss && report.ValidationAccuracy is double accuracy)
            text += FormattableString.Invariant($"  validation loss {loss:F3}  acc {accuracy:F3}");
        return text;
    }

    private void Record(LstmTrainingProgress report)
    {
        // A schedule such as ReduceOnPlateau changes the rate between reports; say so, it explains the curves.
        if (History.Count > 0 && report.LearningRate != History[^1].LearningRate)
            WriteLine(FormattableString.Invariant($"Learning rate {History[^1].LearningRate:G4} -> {report.LearningRate:G4}"));
        History.Add(report);
        WriteLine(report.ToString());
    }

    private void WriteLine(string line)
    {
        // Under the live bar, lines must go through Spectre so they print above it.
        if (live)
            console.WriteLine(line); // plain text, not markup
        else
            Console.Out.WriteLine(line);
    }

    // Progress<T> would post to the thread pool; the library reports on the training thread, so
    // handle each report right there, in order.
    private sealed class Receiver(Action<LstmTrainingProgress> handle) : IProgress<LstmTrainingProgress>
    {
        public void Report(LstmTrainingProgress value) => handle(value);
    }
}
