using ExampleSupport;

namespace TimeSeries;

/// <summary>
/// `dotnet run --project examples/TimeSeries -c Release -- [--train FILE.ts --test FILE.ts] [options]`; see
/// --help. Public so tests can run it in-process.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        var options = ExperimentOptions.Parse(args, out int exitCode);
        if (options is null)
            return exitCode;
        // A bad .ts file or an unwritable path is the user's to fix: one line saying what (the loader's
        // message names the file and line), without a stack trace.
        return UserErrors.Report(() => TimeSeriesExperiment.Run(options));
    }
}
