using System.CommandLine;
using System.CommandLine.Help;
using System.Globalization;
using System.Numerics;

namespace ExampleSupport;

/// <summary>
/// The examples' command-line conventions: help on --help (exit 0), one "error: …" line on stderr for
/// anything wrong (exit 2), and numbers read the same way whatever the machine's culture.
/// </summary>
public static class CommandLineOptions
{
    public const int BadArguments = 2;

    /// <summary>An option with a value name for --help and a default shown there.</summary>
    public static Option<T> Create<T>(string name, string helpName, string description, T defaultValue) =>
        new(name) { HelpName = helpName, Description = description, DefaultValueFactory = _ => defaultValue };

    /// <summary>An option without a default: use <see cref="ValueIfGiven{T}"/> to read it.</summary>
    public static Option<T> Create<T>(string name, string helpName, string description) =>
        new(name) { HelpName = helpName, Description = description };

    /// <summary>Refuses zero, negative and non-finite values.</summary>
    public static Option<T> Positive<T>(Option<T> option) where T : INumber<T> =>
        Checked(option, value => value > T.Zero, "a positive number");

    /// <summary>Refuses negative and non-finite values; zero is allowed (it usually means "off").</summary>
    public static Option<T> NonNegative<T>(Option<T> option) where T : INumber<T> =>
        Checked(option, value => value >= T.Zero, "zero or a positive number");

    /// <summary>Accepts only values strictly between 0 and 1.</summary>
    public static Option<T> Fraction<T>(Option<T> option) where T : INumber<T> =>
        Checked(option, value => value > T.Zero && value < T.One, "a number between 0 and 1 (both excluded)");

    /// <summary>
    /// Parses the value in the invariant culture — "0.5" everywhere, and no thousands separators, so that
    /// "0,5" typed on a machine set to another culture is refused rather than read as 5.
    /// </summary>
    private static Option<T> Checked<T>(Option<T> option, Func<T, bool> isValid, string requirement) where T : INumber<T>
    {
        option.CustomParser = result =>
        {
            string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
            if (!T.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !T.IsFinite(value) || !isValid(value))
                result.AddError($"{option.Name} must be {requirement}, not '{text}'.");
            return value!;
        };
        return option;
    }

    /// <summary>
    /// Parses <paramref name="args"/> against <paramref name="root"/>. Returns null when the program should
    /// stop: after printing help (exit code 0) or a one-line error on stderr (exit code 2).
    /// </summary>
    public static ParseResult? Parse(RootCommand root, string[] args, out int exitCode)
    {
        var result = root.Parse(args);
        if (result.Action is HelpAction)
        {
            exitCode = result.Invoke(new InvocationConfiguration { Output = Console.Out, Error = Console.Error });
            return null;
        }
        if (result.Errors.Count > 0)
            return Refuse<ParseResult>(result.Errors[0].Message, out exitCode);
        exitCode = 0;
        return result;
    }

    /// <summary>Prints the examples' one-line argument error and gives the exit code for it; returns null for convenience.</summary>
    public static T? Refuse<T>(string message, out int exitCode) where T : class
    {
        Console.Error.WriteLine($"error: {message} (see --help)");
        exitCode = BadArguments;
        return null;
    }

    /// <summary>Whether the user typed the option (rather than it taking its default).</summary>
    public static bool IsGiven(this ParseResult result, Option option) => result.GetResult(option) is { Implicit: false };

    /// <summary>The option's value when the user typed it, null otherwise.</summary>
    public static T? ValueIfGiven<T>(this ParseResult result, Option<T> option) where T : struct =>
        result.IsGiven(option) ? result.GetValue(option) : null;
}
