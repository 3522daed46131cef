using System.Globalization;

namespace WebService;

/// <summary>How predictions are computed for single rows; batches always go through the transformer.</summary>
public enum ScoringMode
{
    /// <summary>A pool of <c>PredictionEngine</c>s, one taken per request and returned after it.</summary>
    Engines,

    /// <summary>The shared, thread-safe transformer: <c>Transform</c> over a one-row view per request.</summary>
    Transformer,
}

/// <summary>
/// The service's settings, read from ASP.NET Core configuration: the command line (<c>--model PATH</c>),
/// environment variables or appsettings, under the keys below.
/// </summary>
public sealed record ServiceOptions
{
    public const string ModelKey = "model";
    public const string ScoringKey = "scoring";
    public const string MaxBatchRowsKey = "max-batch-rows";
    public const string MaxRequestBytesKey = "max-request-bytes";
    public const string TorchThreadsKey = "torch-threads";
    public const string MaxStepsKey = "max-steps";

    public const int DefaultMaxBatchRows = 256;

    /// <summary>Steps one row of a variable-length model may have: a row costs time in proportion to its steps (150,000 steps: 22 s of CPU).</summary>
    public const int DefaultMaxSteps = 10_000;

    /// <summary>8 MiB: a full batch of 256 MNIST digits (pixels ÷ 255, as JavaScript's JSON.stringify writes them) takes about 1.4 MB.</summary>
    public const long DefaultMaxRequestBytes = 8L << 20;

    /// <summary>The model file to serve.</summary>
    public required string ModelPath { get; init; }

    /// <summary>Whether <see cref="ModelPath"/> is the default (no --model given), for the error message when it is missing.</summary>
    public bool IsDefaultModel { get; init; }

    public ScoringMode Scoring { get; init; } = ScoringMode.Engines;

    /// <summary>Rows one POST /predict/batch may hold.</summary>
    public int MaxBatchRows { get; init; } = DefaultMaxBatchRows;

    /// <summary>Steps one row may have, for models that read any number of steps.</summary>
    public int MaxSteps { get; init; } = DefaultMaxSteps;

    /// <summary>Bytes a request body may hold; larger bodies get 413.</summary>
    public long MaxRequestBytes { get; init; } = DefaultMaxRequestBytes;

    /// <summary>
    /// libtorch's intra-op threads (process-wide). One by default: concurrent requests already keep the cores
    /// busy, and splitting a forward pass of a few rows across threads costs more than it saves (measured:
    /// about twice the requests per second of libtorch's default of one thread per core, 16 clients on 2 cores).
    /// </summary>
    public int TorchThreads { get; init; } = 1;

    /// <summary>The command that writes the default model, named when it is missing.</summary>
    public const string DefaultModelCommand = "dotnet run --project examples/MnistLstm -c Release";

    /// <summary>What to tell the user when <see cref="ModelPath"/> does not exist: for the default, the command that writes it.</summary>
    public string MissingModelMessage => IsDefaultModel
        ? $"no model at {ModelPath}: write it with `{DefaultModelCommand}`, or pass --model PATH."
        : $"model file '{ModelPath}' does not exist.";

    /// <exception cref="ArgumentException">A setting has a value the service cannot use; the message names it.</exception>
    public static ServiceOptions From(IConfiguration configuration)
    {
        string? model = configuration[ModelKey];
        return new ServiceOptions
        {
            ModelPath = string.IsNullOrWhiteSpace(model) ? DefaultModelPath : Path.GetFullPath(model),
            IsDefaultModel = string.IsNullOrWhiteSpace(model),
            Scoring = configuration[ScoringKey] switch
            {
                null or "" or "engines" => ScoringMode.Engines,
                "transformer" => ScoringMode.Transformer,
                var other => throw new ArgumentException($"--{ScoringKey} must be 'engines' or 'transformer', not '{other}'."),
            },
            MaxBatchRows = (int)Positive(configuration, MaxBatchRowsKey, DefaultMaxBatchRows, int.MaxValue),
            MaxRequestBytes = Positive(configuration, MaxRequestBytesKey, DefaultMaxRequestBytes, long.MaxValue),
            MaxSteps = (int)Positive(configuration, MaxStepsKey, DefaultMaxSteps, int.MaxValue),
            TorchThreads = (int)Positive(configuration, TorchThreadsKey, 1, 1024),
        };
    }

    /// <summary>
    /// The MNIST example's output, assets/outputs/mnist-lstm.zip in the repository (found by walking up to
    /// MlNetLstm.sln from the app), or under the working directory outside it.
    /// </summary>
    public static string DefaultModelPath
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "MlNetLstm.sln")))
                    return Path.Combine(dir.FullName, "assets", "outputs", "mnist-lstm.zip");
            return Path.GetFullPath(Path.Combine("assets", "outputs", "mnist-lstm.zip"));
        }
    }

    private static long Positive(IConfiguration configuration, string key, long defaultValue, long max)
    {
        string? text = configuration[key];
        if (string.IsNullOrEmpty(text))
            return defaultValue;
        if (!long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long value) || value <= 0 || value > max)
            throw new ArgumentException($"--{key} must be a positive whole number, not '{text}'.");
        return value;
    }
}
