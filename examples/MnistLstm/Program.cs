using ExampleSupport;

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
        // Bad data or an unwritable path is the user's to fix: one line saying what, without a stack trace.
        return UserErrors.Report(() => MnistExperiment.Run(options));
    }
}
