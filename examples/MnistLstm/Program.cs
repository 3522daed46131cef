namespace MnistLstm;

/// <summary>
/// `dotnet run --project examples/MnistLstm -c Release [options]`; see --help. Public so tests can run it
/// in-process.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        var options = ExperimentOptions.Parse(args, out int exitCode);
        if (options is null)
            return exitCode;
        try
        {
            return MnistExperiment.Run(options);
        }
        catch (Exception e) when (e is ArgumentOutOfRangeException or InvalidDataException or IOException or UnauthorizedAccessException)
        {
            // Bad data or an unwritable path is the user's to fix: say what, without a stack trace.
            Console.Error.WriteLine($"error: {e.Message.ReplaceLineEndings(" ")}");
            return 1;
        }
    }
}
