using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Runtime.InteropServices;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MlNetLstm.Benchmarks;

/// <summary>
/// examples/WebService under load over real HTTP: the benchmark's model saved as the MNIST example saves
/// its pipeline, the service started as a child process on a free loopback port, 16 clients posting test
/// digits to POST /predict, and every answer checked against an offline PredictionEngine's.
/// </summary>
public static class HttpLoadRun
{
    public const int Clients = 16;

    /// <param name="Requests">Requests timed.</param>
    /// <param name="Errors">Requests that failed or were not answered 200.</param>
    /// <param name="Mismatches">Answers whose label or scores (to the bit) differ from the offline PredictionEngine's.</param>
    public sealed record Figures(int Requests, int Errors, int Mismatches, double P50Ms, double P99Ms, double RequestsPerSecond);

    /// <param name="Default">The service as started without settings (the engine pool): the full run.</param>
    /// <param name="Engines">Median requests/s of the rounds against the service with its defaults.</param>
    /// <param name="Transformer">Median requests/s of the rounds against the service with --scoring transformer.</param>
    public sealed record Results(Figures Default, double Engines, double Transformer, double EnginesP50Ms, double TransformerP50Ms);

    /// <summary>
    /// Starts the service twice, with its defaults and with --scoring transformer, warms each up for
    /// <paramref name="warmUp"/> (under load the JIT takes tens of thousands of requests to settle on
    /// optimised code: measured here, 1,500 requests/s over the first 10,000 and 4,000 after 30,000), times <paramref name="requests"/> requests against the defaults, then
    /// <paramref name="rounds"/> rounds of <paramref name="comparisonRequests"/> against each, alternating
    /// which goes first. Both are stopped with SIGTERM and must exit cleanly.
    /// </summary>
    public static Results Measure(MLContext mlContext, IDataView train, LstmClassifierTransformer model, IReadOnlyList<DigitRow> rows,
        int requests, TimeSpan warmUp, int rounds, int comparisonRequests, TextWriter log)
    {
        var path = Path.Combine(Path.GetTempPath(), $"mlnetlstm-bench-{Guid.NewGuid():N}.zip");
        try
        {
            SaveAsTheMnistExampleDoes(mlContext, train, model, path);
            var load = new LoadGenerator(
                rows.Select(r => JsonSerializer.SerializeToUtf8Bytes(new { features = r.Features })).ToArray(),
                OfflinePredictions(path, rows));

            using var defaults = ServiceProcess.Start(path);
            using var transformer = ServiceProcess.Start(path, "--scoring", "transformer");
            if (defaults.Scoring != "engines" || transformer.Scoring != "transformer")
                throw new InvalidOperationException($"The services score with '{defaults.Scoring}' and '{transformer.Scoring}', not the engine pool and the transformer.");
            foreach (var service in new[] { defaults, transformer })
                for (var clock = Stopwatch.StartNew(); clock.Elapsed < warmUp;)
                    load.Run(service.Client, 1_000);

            var full = load.Run(defaults.Client, requests);
            log.WriteLine($"  HTTP, {Clients} clients, {full.Requests:N0} requests: {full.RequestsPerSecond:F0}/s, p50 {full.P50Ms:F2} ms, p99 {full.P99Ms:F2} ms, {full.Errors} errors, {full.Mismatches} answers unlike the offline PredictionEngine's");
            var engines = new List<Figures>();
            var transformed = new List<Figures>();
            for (int round = 0; round < rounds; round++)
            {
                foreach (var service in round % 2 == 0 ? new[] { defaults, transformer } : [transformer, defaults])
                    (service == defaults ? engines : transformed).Add(load.Run(service.Client, comparisonRequests));
                log.WriteLine($"  HTTP round {round + 1}: engine pool {engines[^1].RequestsPerSecond:F0}/s, transformer {transformed[^1].RequestsPerSecond:F0}/s");
            }
            if (engines.Concat(transformed).Sum(f => f.Errors + f.Mismatches) is int bad and > 0)
                throw new InvalidOperationException($"{bad} requests of the scoring-mode rounds failed or were answered unlike the offline PredictionEngine.");
            defaults.Stop();
            transformer.Stop();
            return new Results(full,
                Statistics.Median(engines.Select(f => f.RequestsPerSecond)), Statistics.Median(transformed.Select(f => f.RequestsPerSecond)),
                Statistics.Median(engines.Select(f => f.P50Ms)), Statistics.Median(transformed.Select(f => f.P50Ms)));
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>MapValueToKey(Label) → the LSTM → MapKeyToValue(PredictedLabel), saved with the data's float label.</summary>
    private static void SaveAsTheMnistExampleDoes(MLContext mlContext, IDataView train, LstmClassifierTransformer model, string path)
    {
        var keyed = mlContext.Transforms.Conversion.MapValueToKey("Label").Fit(train).Append(model);
        var pipeline = keyed.Append(mlContext.Transforms.Conversion.MapKeyToValue("PredictedLabel").Fit(keyed.Transform(train)));
        mlContext.Model.Save(pipeline, train.Schema, path);
    }

    private static List<ServedDigitPrediction> OfflinePredictions(string path, IReadOnlyList<DigitRow> rows)
    {
        var mlContext = new MLContext();
        var model = mlContext.Model.Load(path, out _);
        try
        {
            using var engine = mlContext.Model.CreatePredictionEngine<DigitRow, ServedDigitPrediction>(model, new PredictionEngineOptions { OwnsTransformer = false });
            return rows.Select(r => engine.Predict(r)).ToList();
        }
        finally
        {
            (model as IDisposable)?.Dispose();
        }
    }

    /// <summary>Test digits posted to POST /predict by <see cref="Clients"/> concurrent clients, each answer checked.</summary>
    private sealed class LoadGenerator(byte[][] bodies, List<ServedDigitPrediction> expected)
    {
        public Figures Run(HttpClient client, int requests)
        {
            var latencies = new double[requests];
            int next = -1, errors = 0, mismatches = 0;
            var clock = Stopwatch.StartNew();
            Task.WaitAll(Enumerable.Range(0, Clients).Select(_ => Task.Run(async () =>
            {
                int i;
                while ((i = Interlocked.Increment(ref next)) < requests)
                {
                    int row = i % bodies.Length;
                    var content = new ByteArrayContent(bodies[row]);
                    content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                    long start = Stopwatch.GetTimestamp();
                    try
                    {
                        using var response = await client.PostAsync("predict", content);
                        var body = await response.Content.ReadAsByteArrayAsync();
                        latencies[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                        if (!response.IsSuccessStatusCode)
                            Interlocked.Increment(ref errors);
                        else if (!SameAs(body, expected[row]))
                            Interlocked.Increment(ref mismatches);
                    }
                    catch (HttpRequestException)
                    {
                        latencies[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                        Interlocked.Increment(ref errors);
                    }
                }
            })).ToArray());
            double seconds = clock.Elapsed.TotalSeconds;
            return new Figures(requests, errors, mismatches, Statistics.Percentile(latencies, 0.50), Statistics.Percentile(latencies, 0.99), requests / seconds);
        }

        private static bool SameAs(byte[] body, ServedDigitPrediction expected)
        {
            using var answer = JsonDocument.Parse(body);
            var root = answer.RootElement;
            var score = root.GetProperty("score").EnumerateArray().Select(v => v.GetSingle()).ToArray();
            return root.GetProperty("predictedLabel").GetString() == expected.PredictedLabel.ToString("R", CultureInfo.InvariantCulture)
                && score.SequenceEqual(expected.Score);
        }
    }

    /// <summary>examples/WebService (copied beside this program by the project reference) in a process of its own.</summary>
    private sealed class ServiceProcess : IDisposable
    {
        private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(1);
        private readonly Process process;

        private ServiceProcess(Process process, Uri address)
        {
            this.process = process;
            Client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = Clients, PooledConnectionLifetime = Timeout.InfiniteTimeSpan })
            {
                BaseAddress = address,
            };
        }

        /// <summary>A client with a connection for each of the <see cref="Clients"/>.</summary>
        public HttpClient Client { get; }

        /// <summary>How it scores single rows, as GET /model says.</summary>
        public string Scoring { get; private set; } = "";

        /// <summary>Starts it on a free loopback port (port 0, read back from its log) and waits for GET /health to say the model is loaded.</summary>
        public static ServiceProcess Start(string modelPath, params string[] settings)
        {
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
            start.ArgumentList.Add(typeof(WebService.Program).Assembly.Location);
            foreach (var argument in new[] { "--model", modelPath, "--urls", "http://127.0.0.1:0" }.Concat(settings))
                start.ArgumentList.Add(argument);
            var process = Process.Start(start)!;
            var address = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
            var output = new System.Text.StringBuilder();
            void Read(object _, DataReceivedEventArgs e)
            {
                if (e.Data is null)
                    return;
                lock (output)
                    output.AppendLine(e.Data);
                const string listening = "Now listening on: ";
                int at = e.Data.IndexOf(listening, StringComparison.Ordinal);
                if (at >= 0)
                    address.TrySetResult(new Uri(e.Data[(at + listening.Length)..].Trim() + "/"));
            }
            process.OutputDataReceived += Read;
            process.ErrorDataReceived += Read;
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            var service = new ServiceProcess(process, WaitFor(address.Task, process, output));
            service.WaitUntilLoaded(output);
            return service;
        }

        private static Uri WaitFor(Task<Uri> address, Process process, System.Text.StringBuilder output)
        {
            if (Task.WaitAny([address, process.WaitForExitAsync()], StartTimeout) != 0)
            {
                if (!process.HasExited)
                    process.Kill(entireProcessTree: true);
                lock (output)
                    throw new InvalidOperationException($"The web service did not start listening:\n{output}");
            }
            return address.Result;
        }

        private void WaitUntilLoaded(System.Text.StringBuilder output)
        {
            var deadline = DateTime.UtcNow + StartTimeout;
            while (Client.GetAsync("health").Result.StatusCode != System.Net.HttpStatusCode.OK)
            {
                if (DateTime.UtcNow > deadline || process.HasExited)
                    lock (output)
                        throw new InvalidOperationException($"The web service did not load its model:\n{output}");
                Thread.Sleep(50);
            }
            using var model = JsonDocument.Parse(Client.GetStringAsync("model").Result);
            Scoring = model.RootElement.GetProperty("scoring").GetString() ?? "";
        }

        /// <summary>Asks it to shut down as an orchestrator would (SIGTERM) and requires a clean exit.</summary>
        public void Stop()
        {
            if (OperatingSystem.IsWindows())
            {
                process.Kill();
                return;
            }
            if (kill(process.Id, SigTerm) != 0)
                throw new InvalidOperationException($"Could not signal the web service (errno {Marshal.GetLastPInvokeError()}).");
            if (!process.WaitForExit(TimeSpan.FromSeconds(30)) || process.ExitCode != 0)
                throw new InvalidOperationException($"The web service did not shut down cleanly on SIGTERM (exit code {(process.HasExited ? process.ExitCode : "none yet")}).");
        }

        public void Dispose()
        {
            Client.Dispose();
            if (!process.HasExited)
                process.Kill(entireProcessTree: true);
            process.Dispose();
        }

        private const int SigTerm = 15;

        [DllImport("libc", SetLastError = true)]
        private static extern int kill(int pid, int signal);
    }
}

/// <summary>What the benchmark's saved pipeline answers: Score and the digit as a float (after MapKeyToValue).</summary>
public sealed class ServedDigitPrediction
{
    public float[] Score { get; set; } = [];
    public float PredictedLabel { get; set; }
}
