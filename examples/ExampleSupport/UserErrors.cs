namespace ExampleSupport;

/// <summary>Turns the failures a user can fix (bad data, unwritable paths) into one line on stderr.</summary>
public static class UserErrors
{
    public const int ExitCode = 1;

    /// <summary>
    /// Runs <paramref name="run"/> and returns its exit code; a bad data file, a missing or unwritable path,
    /// or data the library refuses becomes "error: …" on stderr and exit code 1, without a stack trace.
    /// </summary>
    public static int Report(Func<int> run)
    {
        try
        {
            return run();
        }
        catch (Exception e) when (e is ArgumentOutOfRangeException or InvalidDataException or NotSupportedException
                                      or IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"error: {e.Message.ReplaceLineEndings(" ")}");
            return ExitCode;
        }
    }
}
