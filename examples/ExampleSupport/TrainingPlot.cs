using System.Globalization;
using MlNetLstm;
using ScottPlot;

namespace ExampleSupport;

/// <summary>
/// One PNG: loss and accuracy over training (minibatch, and validation when the reports carry it, with
/// the epoch whose weights were kept marked), and the test confusion matrix as a heatmap.
/// </summary>
public static class TrainingPlot
{
    /// <param name="path">The PNG to write.</param>
    /// <param name="history">Every progress report of the training run, in order.</param>
    /// <param name="summary">The fitted classifier's <c>TrainingSummary</c>: where the kept weights come from.</param>
    /// <param name="testAccuracy">Drawn as a horizontal line on the accuracy panel.</param>
    /// <param name="confusion">Test counts, row = true class, column = predicted, in key order.</param>
    /// <param name="classes">Class names in key order.</param>
    /// <param name="classHeader">What one class is called on the axes: "digit", "class".</param>
    public static void Save(string path, IReadOnlyList<LstmTrainingProgress> history, LstmTrainingSummary? summary,
        double testAccuracy, IReadOnlyList<IReadOnlyList<double>> confusion, IReadOnlyList<string> classes, string classHeader)
    {
        var figure = new Multiplot();
        figure.AddPlots(3);
        figure.Layout = new ScottPlot.MultiplotLayouts.Columns();

        // With validation the library reports once per evaluation (about once per epoch), so epochs are
        // the natural unit; without it, reports come every few batches and samples match the reference's "Iter".
        var validated = history.Where(p => p.ValidationLoss.HasValue && p.ValidationAccuracy.HasValue).ToArray();
        bool byEpoch = validated.Length > 0;
        double X(LstmTrainingProgress p) => byEpoch ? p.Epoch : p.SamplesSeen;
        string xLabel = byEpoch ? "epochs" : "training samples (Iter)";
        double[] x = history.Select(X).ToArray();
        double[] validationX = validated.Select(X).ToArray();
        double? keptX = byEpoch && summary?.BestValidationLoss is not null ? summary.KeptEpoch : null;

        var loss = figure.GetPlot(0);
        var minibatchLoss = loss.Add.ScatterLine(x, history.Select(p => p.MinibatchLoss).ToArray());
        if (byEpoch)
        {
            // A legend only when there is more than one curve to tell apart.
            minibatchLoss.LegendText = "minibatch";
            loss.Add.ScatterLine(validationX, validated.Select(p => p.ValidationLoss!.Value).ToArray()).LegendText = "validation";
            MarkKept(loss, keptX, summary);
            loss.ShowLegend(Alignment.UpperRight);
        }
        loss.Title(byEpoch ? "Loss" : "Minibatch loss");
        loss.XLabel(xLabel);
        loss.YLabel("cross-entropy");

        var accuracy = figure.GetPlot(1);
        accuracy.Add.ScatterLine(x, history.Select(p => p.MinibatchAccuracy).ToArray()).LegendText = "minibatch";
        if (byEpoch)
        {
            accuracy.Add.ScatterLine(validationX, validated.Select(p => p.ValidationAccuracy!.Value).ToArray()).LegendText = "validation";
            MarkKept(accuracy, keptX, summary);
        }
        var test = accuracy.Add.HorizontalLine(testAccuracy, color: Colors.Green, pattern: LinePattern.Dashed);
        test.LegendText = Invariant($"test {testAccuracy:F4}");
        accuracy.Axes.SetLimitsY(0, 1.02);
        accuracy.Title(byEpoch ? "Accuracy" : "Training accuracy");
        accuracy.XLabel(xLabel);
        accuracy.YLabel("accuracy");
        accuracy.ShowLegend(Alignment.LowerRight);

        DrawConfusion(figure.GetPlot(2), confusion, classes, classHeader);
        figure.SavePng(path, 1800, 560);
    }

    /// <summary>A vertical line at the epoch whose weights the model kept (best validation loss).</summary>
    private static void MarkKept(Plot plot, double? keptX, LstmTrainingSummary? summary)
    {
        if (keptX is not double at || summary is null)
            return;
        var kept = plot.Add.VerticalLine(at, color: Colors.Gray, pattern: LinePattern.Dotted);
        kept.LegendText = Invariant($"kept: epoch {summary.KeptEpoch:0.#}");
    }

    private static void DrawConfusion(Plot plot, IReadOnlyList<IReadOnlyList<double>> counts, IReadOnlyList<string> classes, string classHeader)
    {
        int n = classes.Count;
        // Colour on a log scale so that a handful of mistakes still shows next to the large diagonal.
        var shade = new double[n, n];
        double max = 0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                max = Math.Max(max, shade[i, j] = Math.Log10(1 + counts[i][j]));

        // Row i of the array is drawn at the top when i = 0, so true class i sits at y = n - 1 - i.
        var heatmap = plot.Add.Heatmap(shade);
        // Blues runs dark to light; reversed, more counts are darker.
        heatmap.Colormap = new ScottPlot.Colormaps.Blues().Reversed();
        // The extent gives the corner cells' centres (cells are centre-aligned): one cell per integer.
        heatmap.Extent = new CoordinateRect(0, n - 1, 0, n - 1);
        // Counts in the cells while they fit; with dozens of classes the colours have to speak alone.
        if (n <= 20)
        {
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++)
                {
                    if (counts[i][j] == 0)
                        continue;
                    var label = plot.Add.Text(counts[i][j].ToString("F0", CultureInfo.InvariantCulture), j, n - 1 - i);
                    label.Alignment = Alignment.MiddleCenter;
                    label.LabelFontSize = 13;
                    label.LabelFontColor = shade[i, j] > max * 0.6 ? Colors.White : Colors.Black;
                }
        }

        double[] positions = Enumerable.Range(0, n).Select(k => (double)k).ToArray();
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(positions, classes.ToArray());
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            positions, Enumerable.Range(0, n).Select(k => classes[n - 1 - k]).ToArray());
        plot.Axes.SetLimits(-0.5, n - 0.5, -0.5, n - 0.5);
        plot.Title("Confusion matrix (test)");
        plot.XLabel($"predicted {classHeader}");
        plot.YLabel($"true {classHeader}");
    }

    private static string Invariant(FormattableString text) => FormattableString.Invariant(text);
}
