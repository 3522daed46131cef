using MlNetLstm;
using ScottPlot;

namespace MnistLstm;

/// <summary>One PNG: minibatch loss and accuracy per display step, and the test confusion matrix.</summary>
public static class TrainingPlot
{
    public static void Save(string path, IReadOnlyList<LstmTrainingProgress> history, double testAccuracy,
        IReadOnlyList<IReadOnlyList<double>> confusion, string[] classes)
    {
        var figure = new Multiplot();
        figure.AddPlots(3);
        figure.Layout = new ScottPlot.MultiplotLayouts.Columns();

        double[] samples = history.Select(p => (double)p.SamplesSeen).ToArray();
        var loss = figure.GetPlot(0);
        loss.Add.ScatterLine(samples, history.Select(p => p.MinibatchLoss).ToArray());
        loss.Title("Minibatch loss");
        loss.XLabel("training samples (Iter)");
        loss.YLabel("cross-entropy");

        var accuracy = figure.GetPlot(1);
        accuracy.Add.ScatterLine(samples, history.Select(p => p.MinibatchAccuracy).ToArray()).LegendText = "minibatch";
        var test = accuracy.Add.HorizontalLine(testAccuracy, color: Colors.Green, pattern: LinePattern.Dashed);
        test.LegendText = $"test {testAccuracy:F4}";
        accuracy.Axes.SetLimitsY(0, 1.02);
        accuracy.Title("Training accuracy");
        accuracy.XLabel("training samples (Iter)");
        accuracy.YLabel("accuracy");
        accuracy.ShowLegend(Alignment.LowerRight);

        DrawConfusion(figure.GetPlot(2), confusion, classes);
        figure.SavePng(path, 1800, 560);
    }

    private static void DrawConfusion(Plot plot, IReadOnlyList<IReadOnlyList<double>> counts, string[] classes)
    {
        int n = classes.Length;
        // Colour on a log scale so that a handful of mistakes still shows next to the large diagonal.
        var shade = new double[n, n];
        double max = 0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                max = Math.Max(max, shade[i, j] = Math.Log10(1 + counts[i][j]));

        // Row i of the array is drawn at the top when i = 0, so true digit i sits at y = n - 1 - i.
        var heatmap = plot.Add.Heatmap(shade);
        // Blues runs dark to light; reversed, more counts are darker.
        heatmap.Colormap = new ScottPlot.Colormaps.Blues().Reversed();
        // The extent gives the corner cells' centres (cells are centre-aligned): one cell per integer.
        heatmap.Extent = new CoordinateRect(0, n - 1, 0, n - 1);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                if (counts[i][j] == 0)
                    continue;
                var label = plot.Add.Text(counts[i][j].ToString("F0"), j, n - 1 - i);
                label.Alignment = Alignment.MiddleCenter;
                label.LabelFontSize = 13;
                label.LabelFontColor = shade[i, j] > max * 0.6 ? Colors.White : Colors.Black;
            }

        double[] positions = Enumerable.Range(0, n).Select(k => (double)k).ToArray();
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(positions, classes);
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            positions, Enumerable.Range(0, n).Select(k => classes[n - 1 - k]).ToArray());
        plot.Axes.SetLimits(-0.5, n - 0.5, -0.5, n - 0.5);
        plot.Title("Confusion matrix (test)");
        plot.XLabel("predicted digit");
        plot.YLabel("true digit");
    }
}
