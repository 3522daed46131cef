using System.Globalization;
using System.Text;
using Microsoft.ML.Data;
using Spectre.Console;

namespace MnistLstm;

/// <summary>Evaluation tables and ASCII-art digits, readable on a terminal and in a redirected log.</summary>
public static class ConsoleReport
{
    private const string InkRamp = " .:-=+*#%@";

    public static void Metrics(IAnsiConsole console, MulticlassClassificationMetrics metrics, string[] classes)
    {
        var summary = new Table().Title("Test metrics").AddColumn("metric").AddColumn(new TableColumn("value").RightAligned());
        summary.AddRow("micro accuracy", Number(metrics.MicroAccuracy, "F4"));
        summary.AddRow("macro accuracy", Number(metrics.MacroAccuracy, "F4"));
        summary.AddRow("log-loss", Number(metrics.LogLoss, "F4"));
        summary.AddRow("log-loss reduction", Number(metrics.LogLossReduction, "F4"));
        console.Write(summary);

        var matrix = metrics.ConfusionMatrix;
        var perClass = new Table().Title("Per class").AddColumn("digit");
        foreach (var name in new[] { "precision", "recall", "test images" })
            perClass.AddColumn(new TableColumn(name).RightAligned());
        for (int i = 0; i < classes.Length; i++)
            perClass.AddRow(classes[i], Number(matrix.PerClassPrecision[i], "F4"), Number(matrix.PerClassRecall[i], "F4"),
                Number(matrix.Counts[i].Sum(), "F0"));
        console.Write(perClass);

        var confusion = new Table().Title("Confusion matrix (rows: true digit, columns: predicted)").AddColumn("true");
        foreach (var name in classes)
            confusion.AddColumn(new TableColumn(name).RightAligned());
        for (int i = 0; i < classes.Length; i++)
        {
            var cells = matrix.Counts[i].Select((count, j) =>
                i == j ? $"[green]{count:F0}[/]" : count > 0 ? $"[red]{count:F0}[/]" : "[grey]·[/]");
            confusion.AddRow([classes[i], .. cells]);
        }
        console.Write(confusion);
    }

    /// <summary>Digits side by side as far as the console is wide, each boxed with its labels.</summary>
    public static void Digits(IAnsiConsole console, IEnumerable<DigitPrediction> digits)
    {
        var panels = digits.Select(d => new Panel(new Text(Art(d.Pixels)))
            .Header(Markup.Escape($"true {d.Label}, predicted {d.Predicted}{(d.IsCorrect ? "" : " (wrong)")}")));
        console.Write(new Columns(panels).Collapse());
    }

    /// <summary>One character per pixel across, one line per two pixel rows, so the digit keeps its shape.</summary>
    private static string Art(float[] pixels)
    {
        int side = (int)Math.Sqrt(pixels.Length);
        var art = new StringBuilder();
        for (int row = 0; row + 1 < side; row += 2)
        {
            for (int column = 0; column < side; column++)
            {
                float ink = (pixels[row * side + column] + pixels[(row + 1) * side + column]) / 2;
                art.Append(InkRamp[(int)Math.Round(ink * (InkRamp.Length - 1))]);
            }
            art.Append('\n');
        }
        return art.ToString().TrimEnd('\n');
    }

    private static string Number(double value, string format) => value.ToString(format, CultureInfo.InvariantCulture);
}
