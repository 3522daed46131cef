using System.Globalization;
using Microsoft.ML.Data;
using Spectre.Console;

namespace ExampleSupport;

/// <summary>The test metrics, per-class precision/recall and the confusion matrix as console tables.</summary>
public static class MetricsTables
{
    /// <param name="console">Where to write.</param>
    /// <param name="metrics">What <c>mlContext.MulticlassClassification.Evaluate</c> returned.</param>
    /// <param name="classes">The class names in key order (the order of the metrics' per-class arrays).</param>
    /// <param name="classHeader">What one class is called in the headers: "digit", "class".</param>
    /// <param name="countHeader">What the per-class count column is called: "test images", "test cases".</param>
    public static void Write(IAnsiConsole console, MulticlassClassificationMetrics metrics, IReadOnlyList<string> classes,
        string classHeader, string countHeader)
    {
        var summary = new Table().Title("Test metrics").AddColumn("metric").AddColumn(new TableColumn("value").RightAligned());
        summary.AddRow("micro accuracy", Number(metrics.MicroAccuracy, "F4"));
        summary.AddRow("macro accuracy", Number(metrics.MacroAccuracy, "F4"));
        summary.AddRow("log-loss", Number(metrics.LogLoss, "F4"));
        summary.AddRow("log-loss reduction", Number(metrics.LogLossReduction, "F4"));
        console.Write(summary);

        // Class names come from data files: escape them, Spectre would read "[...]" as markup.
        var names = classes.Select(Markup.Escape).ToArray();
        var matrix = metrics.ConfusionMatrix;
        var perClass = new Table().Title("Per class").AddColumn(Markup.Escape(classHeader));
        foreach (var name in new[] { "precision", "recall", countHeader })
            perClass.AddColumn(new TableColumn(Markup.Escape(name)).RightAligned());
        for (int i = 0; i < names.Length; i++)
            perClass.AddRow(names[i], Number(matrix.PerClassPrecision[i], "F4"), Number(matrix.PerClassRecall[i], "F4"),
                Number(matrix.Counts[i].Sum(), "F0"));
        console.Write(perClass);

        // The heading as a line of its own: as a table title Spectre would wrap it to the width of a narrow table.
        console.WriteLine($"Confusion matrix (rows: true {classHeader}, columns: predicted)");
        var confusion = new Table().AddColumn("true");
        foreach (var name in names)
            confusion.AddColumn(new TableColumn(name).RightAligned());
        for (int i = 0; i < names.Length; i++)
        {
            var cells = matrix.Counts[i].Select((count, j) =>
                i == j ? $"[green]{count:F0}[/]" : count > 0 ? $"[red]{count:F0}[/]" : "[grey]·[/]");
            confusion.AddRow([names[i], .. cells]);
        }
        console.Write(confusion);
    }

    private static string Number(double value, string format) => value.ToString(format, CultureInfo.InvariantCulture);
}
