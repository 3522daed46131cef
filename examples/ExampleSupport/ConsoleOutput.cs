using Spectre.Console;

namespace ExampleSupport;

/// <summary>How the examples write to the console, the same on a terminal and in a redirected log.</summary>
public static class ConsoleOutput
{
    /// <summary>A console of its own per run that writes to whatever Console.Out is now (tests redirect it).</summary>
    public static IAnsiConsole Create() => AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Out) });

    /// <summary>Whether to draw a live progress bar: only on a terminal, never into a log file.</summary>
    public static bool IsInteractive => !Console.IsOutputRedirected;

    /// <summary>
    /// A plain line, straight to Console.Out in the invariant culture: Spectre would wrap it at 80 columns
    /// when redirected, and a log should read the same on every machine.
    /// </summary>
    public static void Say(FormattableString line) => Console.Out.WriteLine(FormattableString.Invariant(line));
}
