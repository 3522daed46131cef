namespace WebService;

/// <summary>The served model once it is loaded; endpoints answer 503 until then.</summary>
public sealed class ModelHolder : IDisposable
{
    private ServedModel? model;
    private bool disposed;
    private readonly object gate = new();

    /// <summary>The loaded model, or null while it is loading.</summary>
    public ServedModel? Current => Volatile.Read(ref model);

    /// <summary>Whether loading failed (the service then stops with <see cref="ModelLoader.LoadFailedExitCode"/>).</summary>
    public bool LoadFailed { get; set; }

    /// <summary>Makes <paramref name="loaded"/> the served model; disposes it at once if the service is already shutting down.</summary>
    public void Publish(ServedModel loaded)
    {
        lock (gate)
        {
            if (!disposed)
            {
                Volatile.Write(ref model, loaded);
                return;
            }
        }
        loaded.Dispose();
    }

    /// <summary>Called by the host once the server has finished the requests in flight.</summary>
    public void Dispose()
    {
        lock (gate)
        {
            disposed = true;
            model?.Dispose();
            model = null;
        }
    }
}

/// <summary>
/// Loads the model in the background once the host starts, so the server answers (GET /health: 503)
/// while it loads. A model that cannot be loaded stops the service with exit code 1.
/// </summary>
public sealed class ModelLoader(ServiceOptions options, ModelHolder holder, IHostApplicationLifetime lifetime, ILogger<ModelLoader> logger)
    : BackgroundService
{
    public const int LoadFailedExitCode = 1;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Hosted services start before the server listens: load once it does, so /health answers meanwhile
        // and a failure stops a started application rather than cancelling its start.
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
        using (stoppingToken.Register(() => started.TrySetCanceled(stoppingToken)))
            await started.Task;
        try
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var model = ServedModel.Load(options.ModelPath, options);
            TorchSharp.torch.set_num_threads(options.TorchThreads);
            holder.Publish(model);
            logger.LogInformation("Serving {File}: {Classes} classes ({Labels}), {Input}, loaded in {Seconds:F1} s; scoring with {Scoring}, {Threads} libtorch thread(s)",
                model.Info.ModelFile, model.Info.ClassCount, string.Join(", ", model.Labels.Take(12)),
                model.FeatureLength is int length ? $"{length} features" : $"any whole number of steps of {model.InputSize}",
                clock.Elapsed.TotalSeconds, model.Info.Scoring, options.TorchThreads);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"error: cannot serve '{options.ModelPath}': {e.Message.ReplaceLineEndings(" ")}");
            holder.LoadFailed = true;
            lifetime.StopApplication();
        }
    }
}
