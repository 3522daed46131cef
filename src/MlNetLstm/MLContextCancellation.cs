using Microsoft.ML;
using MlNetLstm.MlNetInternals;

namespace MlNetLstm;

/// <summary>Cancelling work running on an <see cref="MLContext"/>.</summary>
public static class MLContextCancellation
{
    /// <summary>
    /// Asks every component running on <paramref name="mlContext"/> to stop; an LSTM training in
    /// progress throws <see cref="OperationCanceledException"/> before its next batch. ML.NET 5 keeps
    /// its own <c>CancelExecution</c> internal; this makes it callable.
    /// </summary>
    /// <param name="mlContext">The context to stop. Cancellation cannot be undone on it.</param>
    public static void CancelExecution(this MLContext mlContext)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        HostChannel.Cancel(mlContext);
    }
}
