using System.Runtime.CompilerServices;
using Microsoft.ML.Runtime;

namespace MlNetLstm.MlNetInternals;

/// <summary>
/// A component's link to its MLContext during one operation: log messages go to
/// <c>MLContext.Log</c>, and <see cref="CheckAlive"/> honours <c>MLContext.CancelExecution()</c>.
/// </summary>
internal sealed class HostChannel : IDisposable
{
    private readonly IHost host;
    private readonly IChannel channel;

    public HostChannel(IHostEnvironment environment, string component, string operation)
    {
        InternalApiCheck.EnsureCompatible();
        host = environment.Register(component);
        channel = host.Start(operation);
    }

    /// <summary>The component's random source, seeded from the MLContext's seed.</summary>
    public Random Random => host.Rand;

    public void Info(string message) => channel.Info(MessageSensitivity.None, message);

    public void Warning(string message) => channel.Warning(MessageSensitivity.None, message);

    /// <summary>Throws <see cref="OperationCanceledException"/> once the MLContext was told to stop.</summary>
    public void CheckAlive()
    {
        if (host is ICancelable { IsCanceled: true })
            throw new OperationCanceledException("Operation was canceled.");
    }

    public void Dispose() => channel.Dispose();

    /// <summary>What MLContext.CancelExecution does; ML.NET keeps that method internal.</summary>
    public static void Cancel(Microsoft.ML.MLContext mlContext)
    {
        InternalApiCheck.EnsureCompatible();
        CancelExecution(mlContext);
    }

    // Not inlined: JIT-compiled (and its internal reference resolved) only after the check passed.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void CancelExecution(Microsoft.ML.MLContext mlContext) => mlContext.CancelExecution();
}
