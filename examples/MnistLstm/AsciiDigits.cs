using System.Text;
using Spectre.Console;

namespace MnistLstm;

/// <summary>Test digits drawn in ASCII art with their labels, readable on a terminal and in a redirected log.</summary>
public static class AsciiDigits
{
    private const string InkRamp = " .:-=+*#%@";

    /// <summary>Digits side by side as far as the console is wide, each boxed with its labels.</summary>
    public static void Write(IAnsiConsole console, IEnumerable<DigitPrediction> digits)
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
}
