namespace ExampleSupport;

/// <summary>The exit code of an example once its model is trained, from the checks it ran on the model.</summary>
public static class ChecksAfterTraining
{
    /// <summary>A check failed: the reloaded model or the ONNX export does not score like the trained model.</summary>
    public const int FailedExitCode = 3;

    /// <summary>
    /// 0 when the reloaded model scored as the trained one and the ONNX export (when one was asked for)
    /// agreed with the library; otherwise says on stderr which check failed and returns <see cref="FailedExitCode"/>.
    /// </summary>
    public static int ExitCode(bool reloadedIsTheSame, OnnxExportCheck.Agreement? onnx)
    {
        if (!reloadedIsTheSame)
        {
            Console.Error.WriteLine("error: the reloaded model's accuracy differs from the trained model's.");
            return FailedExitCode;
        }
        if (onnx is { Agrees: false })
        {
            Console.Error.WriteLine("error: the ONNX model's predictions differ from the library's.");
            return FailedExitCode;
        }
        return 0;
    }
}
