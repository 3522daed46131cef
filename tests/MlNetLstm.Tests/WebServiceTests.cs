using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using WebService;

namespace MlNetLstm.Tests;

/// <summary>
/// examples/WebService's HTTP contract, in-process through WebApplicationFactory: every endpoint, every
/// refused input, single against batch, both scoring modes, all against the library's own PredictionEngine.
/// </summary>
public class WebServiceTests
{
    private const string ProblemJson = "application/problem+json";
    private ServiceFactory digits = null!;
    private ServiceFactory transformerMode = null!;
    private ServiceFactory sequences = null!;
    private ServiceFactory limited = null!;
    private HttpClient digitClient = null!;
    private List<DigitInput> testDigits = null!;
    private OfflineModel<DigitInput, DigitOutput> offlineDigits = null!;

    [OneTimeSetUp]
    public async Task StartServices()
    {
        digits = new ServiceFactory(ServedModels.Digits);
        transformerMode = new ServiceFactory(ServedModels.Digits, (ServiceOptions.ScoringKey, "transformer"));
        sequences = new ServiceFactory(ServedModels.Sequences);
        limited = new ServiceFactory(ServedModels.Digits, (ServiceOptions.MaxRequestBytesKey, "20000"), (ServiceOptions.MaxBatchRowsKey, "4"));
        // Real HTTP, so a body can come without Content-Length (the in-memory server always sets one).
        limited.UseKestrel(0);
        digitClient = await digits.ReadyClientAsync();
        testDigits = ServedModels.TestDigits(40);
        offlineDigits = new OfflineModel<DigitInput, DigitOutput>(ServedModels.Digits);
    }

    [OneTimeTearDown]
    public void StopServices()
    {
        offlineDigits.Dispose();
        foreach (var factory in new[] { digits, transformerMode, sequences, limited })
            factory.Dispose();
    }

    [Test]
    public async Task HealthIsOkOnceTheModelIsLoaded()
    {
        var response = await digitClient.GetAsync("/health");
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(await response.Content.ReadAsStringAsync(), Is.EqualTo("""{"status":"ok"}"""));
    }

    [Test]
    public async Task WhileTheModelLoadsEveryEndpointAnswers503()
    {
        // The loader removed: the model is published by hand, as the loader would once done.
        using var loading = new ServiceFactory(ServedModels.Digits);
        using var factory = loading.WithWebHostBuilder(builder => builder.ConfigureTestServices(services =>
            services.Remove(services.Single(s => s.ServiceType == typeof(IHostedService) && s.ImplementationType == typeof(ModelLoader)))));
        var client = factory.CreateClient();
        foreach (var response in new[]
        {
            await client.GetAsync("/health"),
            await client.GetAsync("/model"),
            await client.GetAsync("/samples/0"),
            await client.PostAsync("/predict", Json(new { features = testDigits[0].Features })),
            await client.PostAsync("/predict/batch", Json(new { rows = new[] { testDigits[0].Features } })),
        })
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable), response.RequestMessage!.RequestUri!.ToString());
            await AssertProblem(response, "still loading");
        }

        var options = factory.Services.GetRequiredService<ServiceOptions>();
        factory.Services.GetRequiredService<ModelHolder>().Publish(ServedModel.Load(options.ModelPath, options));
        Assert.That((await client.GetAsync("/health")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That((await client.PostAsync("/predict", Json(new { features = testDigits[0].Features }))).StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task ModelDescribesADigitModel()
    {
        var model = await GetJson(digitClient, "/model");
        Assert.Multiple(() =>
        {
            Assert.That(model.GetProperty("labels").EnumerateArray().Select(l => l.GetString()), Is.EqualTo(Enumerable.Range(0, 10).Select(d => d.ToString())));
            Assert.That(model.GetProperty("featureLength").GetInt32(), Is.EqualTo(784));
            Assert.That(model.GetProperty("inputSize").GetInt32(), Is.EqualTo(28));
            Assert.That(model.GetProperty("sequenceLength").GetInt32(), Is.EqualTo(28));
            Assert.That(model.GetProperty("featureColumn").GetString(), Is.EqualTo("Features"));
            Assert.That(model.GetProperty("classCount").GetInt32(), Is.EqualTo(10));
            Assert.That(model.GetProperty("hiddenSize").GetInt32(), Is.EqualTo(64));
            Assert.That(model.GetProperty("image").GetProperty("width").GetInt32(), Is.EqualTo(28));
            Assert.That(model.GetProperty("trainingSummary").GetProperty("batches").GetInt64(), Is.EqualTo(63), "8,000 samples in batches of 128");
            Assert.That(model.GetProperty("trainingSummaryText").GetString(), Does.StartWith("ran "));
            Assert.That(model.GetProperty("libraryVersion").GetString(), Does.Match(@"^\d+\.\d+\.\d+"));
            Assert.That(model.GetProperty("modelFile").GetString(), Is.EqualTo("digits.zip"));
            Assert.That(model.GetProperty("scoring").GetString(), Is.EqualTo("engines"));
            Assert.That(model.GetProperty("maxBatchRows").GetInt32(), Is.EqualTo(ServiceOptions.DefaultMaxBatchRows));
        });
    }

    [Test]
    public async Task ModelDescribesAVariableLengthModel()
    {
        var model = await GetJson(await sequences.ReadyClientAsync(), "/model");
        Assert.Multiple(() =>
        {
            // MapValueToKey numbers text labels in order of appearance; Score follows the keys.
            var expected = VariableSequences.Make(300, 21).Select(r => r.Label).Distinct();
            Assert.That(model.GetProperty("labels").EnumerateArray().Select(l => l.GetString()), Is.EqualTo(expected));
            Assert.That(model.GetProperty("featureLength").ValueKind, Is.EqualTo(JsonValueKind.Null));
            Assert.That(model.GetProperty("sequenceLength").ValueKind, Is.EqualTo(JsonValueKind.Null));
            Assert.That(model.GetProperty("inputSize").GetInt32(), Is.EqualTo(VariableSequences.Channels));
            Assert.That(model.GetProperty("image").ValueKind, Is.EqualTo(JsonValueKind.Null));
        });
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task PredictionsAreTheLibrarysPredictionEngines(bool throughTransformer)
    {
        var client = throughTransformer ? await transformerMode.ReadyClientAsync() : digitClient;
        foreach (var digit in testDigits)
        {
            var prediction = await PredictAsync(client, digit.Features);
            var expected = offlineDigits.Predict(digit);
            Assert.That(prediction.PredictedLabel, Is.EqualTo(expected.PredictedLabel.ToString(CultureInfo.InvariantCulture)));
            // The same forward pass of one row, and floats written to JSON round-trip: equal to the bit.
            Assert.That(prediction.Score, Is.EqualTo(expected.Score));
        }
    }

    [Test]
    public async Task ABatchAgreesWithSinglePredictions()
    {
        var rows = testDigits.Select(d => d.Features).ToArray();
        var batch = await PostJson(digitClient, "/predict/batch", new { rows });
        var predictions = batch.GetProperty("predictions").EnumerateArray().Select(ReadPrediction).ToList();
        Assert.That(predictions, Has.Count.EqualTo(rows.Length));
        for (int i = 0; i < rows.Length; i++)
        {
            var single = await PredictAsync(digitClient, rows[i]);
            Assert.That(predictions[i].PredictedLabel, Is.EqualTo(single.PredictedLabel), $"row {i}");
            // Many rows in one forward pass may round differently from one.
            Assert.That(predictions[i].Score, Is.EqualTo(single.Score).Within(1e-5), $"row {i}");
        }
    }

    [Test]
    public async Task VariableLengthRowsOfAnyWholeNumberOfStepsScoreLikeTheLibrary()
    {
        var client = await sequences.ReadyClientAsync();
        var rows = VariableSequences.Make(30, 99);
        using var offline = new OfflineModel<VariableRow, SequenceOutput>(ServedModels.Sequences);
        var batch = (await PostJson(client, "/predict/batch", new { rows = rows.Select(r => r.Features) }))
            .GetProperty("predictions").EnumerateArray().Select(ReadPrediction).ToList();
        Assert.That(rows.Select(r => r.Features.Length).Distinct().Count(), Is.GreaterThan(5), "rows of many lengths in one batch");
        for (int i = 0; i < rows.Count; i++)
        {
            var expected = offline.Predict(rows[i]);
            var single = await PredictAsync(client, rows[i].Features);
            Assert.That(single.PredictedLabel, Is.EqualTo(expected.PredictedLabel), $"row {i}");
            Assert.That(single.Score, Is.EqualTo(expected.Score), $"row {i}");
            Assert.That(batch[i].PredictedLabel, Is.EqualTo(expected.PredictedLabel), $"row {i}");
            Assert.That(batch[i].Score, Is.EqualTo(expected.Score).Within(1e-5), $"row {i}");
        }
    }

    /// <summary>Bodies the service must refuse, with a fragment of the detail that must name the problem.</summary>
    [Test]
    public async Task TheServiceSetsLibtorchsThreadsToItsSetting()
    {
        int before = ThreadsOfANewThread();
        int other = before == 1 ? 2 : 1;
        try
        {
            using var factory = new ServiceFactory(ServedModels.Digits, (ServiceOptions.TorchThreadsKey, other.ToString(CultureInfo.InvariantCulture)));
            var model = await GetJson(await factory.ReadyClientAsync(), "/model");
            Assert.That(ThreadsOfANewThread(), Is.EqualTo(other));
            Assert.That(model.GetProperty("torchThreads").GetInt32(), Is.EqualTo(other));
        }
        finally
        {
            TorchSharp.torch.set_num_threads(before);
        }
    }

    /// <summary>
    /// libtorch's count as a thread that has not used it yet sees it: each thread takes the process-wide count
    /// when it first asks, and keeps its own afterwards (OpenMP), so the test's own thread may not show a change.
    /// </summary>
    private static int ThreadsOfANewThread()
    {
        int threads = 0;
        var thread = new Thread(() => threads = TorchSharp.torch.get_num_threads());
        thread.Start();
        thread.Join();
        return threads;
    }

    private static IEnumerable<TestCaseData> BadRequests()
    {
        string digit = Floats(784, 0.5f);
        yield return Case("/predict", """{"features": [0.1, 0.2""", "not valid JSON", "malformed JSON");
        yield return Case("/predict", "", "not valid JSON", "empty body");
        yield return Case("/predict", "null", "JSON null", "null body");
        yield return Case("/predict", """{"features": "0.5"}""", "could not be converted", "features not an array");
        yield return Case("/predict", """{"features": [0.1, "x"]}""", "not valid JSON", "a string among the numbers");
        yield return Case("/predict", "{}", "'features' is missing", "no features");
        yield return Case("/predict", """{"features": null}""", "'features' is missing", "null features");
        yield return Case("/predict", """{"features": []}""", "'features' is empty", "empty features");
        yield return Case("/predict", $$"""{"features": {{Floats(783, 0.5f)}}}""", "'features' has 783 values; this model reads 784", "one value short");
        yield return Case("/predict", $$"""{"features": {{Floats(785, 0.5f)}}}""", "'features' has 785 values", "one value too many");
        yield return Case("/predict", $$"""{"features": {{digit.Replace("[0.5,", "[\"NaN\",")}}}""", "'features[0]' is NaN", "NaN");
        yield return Case("/predict", $$"""{"features": {{digit.Replace(",0.5]", ",\"-Infinity\"]")}}}""", "'features[783]' is -Infinity", "-Infinity");
        yield return Case("/predict", $$"""{"features": {{digit.Replace("[0.5,0.5,", "[0.5,1e39,")}}}""", "'features[1]' is Infinity", "beyond float range");
        yield return Case("/predict/batch", "{}", "'rows' is missing", "no rows");
        yield return Case("/predict/batch", """{"rows": []}""", "'rows' is empty", "empty rows");
        yield return Case("/predict/batch", $$"""{"rows": [{{digit}}, null]}""", "'rows[1]' is missing", "a null row");
        yield return Case("/predict/batch", $$"""{"rows": [{{digit}}, {{Floats(10, 0)}}]}""", "'rows[1]' has 10 values", "a short row");
        yield return Case("/predict/batch", $$"""{"rows": [{{digit.Replace("[0.5,", "[\"Infinity\",")}}]}""", "'rows[0][0]' is Infinity", "a non-finite value in a row");
        yield return Case("/predict/batch", $$"""{"rows": {{digit}}}""", "could not be converted", "one row not wrapped in an array");

        static TestCaseData Case(string path, string body, string detail, string name) =>
            new TestCaseData(path, body, detail).SetName($"BadInputIsRefusedAndTheNextRequestIsServed({name})");
    }

    [TestCaseSource(nameof(BadRequests))]
    public async Task BadInputIsRefusedAndTheNextRequestIsServed(string path, string body, string detail)
    {
        var response = await digitClient.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        await AssertProblem(response, detail);
        await AssertStillServing(digitClient);
    }

    [Test]
    public async Task ARowLengthThatIsNotAWholeNumberOfStepsIsRefused()
    {
        var client = await sequences.ReadyClientAsync();
        var response = await client.PostAsync("/predict", Json(new { features = new float[7] }));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        await AssertProblem(response, "'features' has 7 values; this model reads a whole number of steps of 2 values each");
        Assert.That((await client.PostAsync("/predict", Json(new { features = new float[8] }))).StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task ARowWithMoreStepsThanTheServiceReadsIsRefused()
    {
        var client = await sequences.ReadyClientAsync();
        var response = await client.PostAsync("/predict", Json(new { features = new float[2 * (ServiceOptions.DefaultMaxSteps + 1)] }));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        await AssertProblem(response, "'features' has 10,001 steps; the service reads at most 10,000 (--max-steps)");
        Assert.That((await client.PostAsync("/predict", Json(new { features = new float[2 * ServiceOptions.DefaultMaxSteps] }))).StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public void ScoresThatAreNotFiniteAreNotSentButExplained()
    {
        Assert.That(ServedModel.Unsendable(new Prediction("1", [0.5f, 0.5f]), "features"), Is.Null);
        Assert.That(ServedModel.Unsendable(new Prediction("", [float.NaN, float.NaN]), "rows[3]"),
            Does.StartWith("'rows[3]' gives scores that are not finite numbers"));
        Assert.That(ServedModel.Unsendable(new Prediction("2", [float.PositiveInfinity, 0]), "features"), Is.Not.Null);
    }

    [TestCase(StatusCodes.Status408RequestTimeout, "Reading the request body timed out")]
    [TestCase(StatusCodes.Status400BadRequest, "Bad chunk size data.")]
    public async Task ABodyTheServerCannotReadIsAnsweredWithItsStatusAndReason(int status, string reason)
    {
        var context = new DefaultHttpContext();
        context.Request.Body = new FailingStream(new BadHttpRequestException(reason, status));
        var (value, problem) = await RequestBody.ReadAsync<PredictRequest>(context.Request, 20_000);
        Assert.That(value, Is.Null);
        var result = (ProblemHttpResult)problem!;
        Assert.That(result.StatusCode, Is.EqualTo(status));
        Assert.That(result.ProblemDetails.Detail, Does.Contain(reason));
    }

    private sealed class FailingStream(Exception failure) : MemoryStream
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => throw failure;
    }

    [Test]
    public async Task TooManyRowsAreRefused()
    {
        var client = await limited.ReadyClientAsync();
        var rows = Enumerable.Repeat(new float[784], 5).ToArray();
        var response = await client.PostAsync("/predict/batch", Json(new { rows }));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        await AssertProblem(response, "'rows' has 5 rows; the limit is 4");
        Assert.That((await client.PostAsync("/predict/batch", Json(new { rows = rows[..4] }))).StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }

    [TestCase(true)]
    [TestCase(false)]
    public async Task ABodyOverTheLimitIs413(bool withContentLength)
    {
        var client = await limited.ReadyClientAsync();
        HttpContent content = withContentLength ? new ByteArrayContent(OversizedBody) : new StreamContent(new UnknownLengthStream(OversizedBody));
        var response = await client.PostAsync("/predict", content);
        Assert.That(content.Headers.ContentLength.HasValue, Is.EqualTo(withContentLength));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.RequestEntityTooLarge));
        await AssertProblem(response, "over the limit of 20,000 bytes");
        await AssertStillServing(client);
    }

    [Test]
    public async Task ABodyOverTheLimitIsCutWhereTheServerSetsNoLimitOfItsOwn()
    {
        var context = new DefaultHttpContext();
        context.Request.Body = new MemoryStream(OversizedBody); // no Content-Length, no server limit feature
        var (value, problem) = await RequestBody.ReadAsync<PredictRequest>(context.Request, 20_000);
        Assert.That(value, Is.Null);
        Assert.That(problem, Is.InstanceOf<ProblemHttpResult>().With.Property(nameof(ProblemHttpResult.StatusCode)).EqualTo(413));
    }

    private static readonly byte[] OversizedBody = Encoding.UTF8.GetBytes($$"""{"features": {{Floats(3_000, 0.123456789f)}}}""");

    [TestCase(false)]
    [TestCase(true)]
    public async Task SixteenConcurrentClientsEachGetTheirOwnAnswers(bool throughTransformer)
    {
        var client = throughTransformer ? await transformerMode.ReadyClientAsync() : digitClient;
        var expected = testDigits.Select(d => offlineDigits.Predict(d)).ToList();
        var mismatches = 0;
        // Each client on a thread-pool thread of its own: in-process requests can otherwise run one after another.
        await Task.WhenAll(Enumerable.Range(0, 16).Select(worker => Task.Run(async () =>
        {
            for (int i = 0; i < 25; i++)
            {
                int row = (worker * 7 + i) % testDigits.Count;
                var prediction = await PredictAsync(client, testDigits[row].Features);
                if (!prediction.Score.SequenceEqual(expected[row].Score))
                    Interlocked.Increment(ref mismatches);
            }
        })));
        Assert.That(mismatches, Is.Zero);
    }

    [Test]
    public async Task StoppingTheServiceLetsTheRequestsInFlightFinish()
    {
        const int requests = 8;
        var arrived = new CountdownEvent(requests);
        using var stopping = new ServiceFactory(ServedModels.Digits);
        // Each request signals its arrival, then takes a while, so that all are in flight when the host stops.
        using var factory = stopping.WithWebHostBuilder(builder => builder.ConfigureTestServices(services =>
            services.AddSingleton<IStartupFilter>(new SlowRequests(arrived, TimeSpan.FromMilliseconds(300)))));
        factory.UseKestrel(0);
        // A client of its own: the factory disposes the clients it made when it stops.
        using var client = new HttpClient { BaseAddress = (await factory.ReadyClientAsync()).BaseAddress };
        arrived.Reset();
        var rows = testDigits.Take(20).Select(d => d.Features).ToArray();
        var inFlight = Enumerable.Range(0, requests).Select(_ => client.PostAsync("/predict/batch", Json(new { rows }))).ToList();
        Assert.That(arrived.Wait(TimeSpan.FromSeconds(30)), "every request reached the service");

        var stop = Task.Run(() => factory.Dispose());
        foreach (var response in await Task.WhenAll(inFlight))
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            Assert.That(body.RootElement.GetProperty("predictions").GetArrayLength(), Is.EqualTo(rows.Length));
        }
        await stop;
    }

    private sealed class SlowRequests(CountdownEvent arrived, TimeSpan delay) : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use(async (context, handler) =>
            {
                if (context.Request.Path == "/predict/batch")
                {
                    arrived.Signal();
                    await Task.Delay(delay);
                }
                await handler(context);
            });
            next(app);
        };
    }

    [Test]
    public async Task TestDigitsAreTheShippedOnes()
    {
        var digit = await GetJson(digitClient, "/samples/3");
        Assert.That(digit.GetProperty("index").GetInt32(), Is.EqualTo(3));
        Assert.That(digit.GetProperty("label").GetString(), Is.EqualTo(testDigits[3].Label.ToString(CultureInfo.InvariantCulture)));
        Assert.That(digit.GetProperty("features").EnumerateArray().Select(v => v.GetSingle()), Is.EqualTo(testDigits[3].Features));

        foreach (var (client, path, detail) in new[]
        {
            (digitClient, "/samples/2000", "there are 2,000"),
            (digitClient, "/samples/-1", "there are 2,000"),
            (digitClient, "/samples/99999999999", "no test digit '99999999999'"),
            (digitClient, "/samples/seven", "no test digit 'seven'"),
            (await sequences.ReadyClientAsync(), "/samples/0", "MNIST models only"),
        })
        {
            var response = await client.GetAsync(path);
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.NotFound), path);
            await AssertProblem(response, detail);
        }
    }

    [TestCase("/", "text/html", "<canvas id=\"pad\"")]
    [TestCase("/index.html", "text/html", "show a test digit")]
    [TestCase("/app.js", "javascript", "fetch(\"predict\"")]
    [TestCase("/style.css", "text/css", "#pad")]
    public async Task ThePageIsServed(string path, string contentType, string content)
    {
        var response = await digitClient.GetAsync(path);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(response.Content.Headers.ContentType!.MediaType, Does.Contain(contentType));
        Assert.That(await response.Content.ReadAsStringAsync(), Does.Contain(content));
    }

    [Test]
    public async Task UnknownPathsAnswerProblemJson()
    {
        var response = await digitClient.GetAsync("/nothing-here");
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(response.Content.Headers.ContentType!.MediaType, Is.EqualTo(ProblemJson));
    }

    [Test]
    public void WithoutAModelTheDefaultIsTheMnistExamplesOutputAndItsCommandIsNamed()
    {
        var options = ServiceOptions.From(new ConfigurationBuilder().Build());
        Assert.That(options.IsDefaultModel);
        Assert.That(options.ModelPath, Does.EndWith(Path.Combine("assets", "outputs", "mnist-lstm.zip")));
        Assert.That(options.MissingModelMessage, Does.Contain("dotnet run --project examples/MnistLstm -c Release"));
        Assert.That(options.MissingModelMessage, Does.Not.Contain("\n"));
        Assert.That(options.Scoring, Is.EqualTo(ScoringMode.Engines));
        Assert.That(options.TorchThreads, Is.EqualTo(1));
    }

    [Test]
    public void AMissingModelFileIsOneErrorLine()
    {
        var (exitCode, error) = RunMain(["--model", "/nonexistent/model.zip"]);
        Assert.That(exitCode, Is.EqualTo(1));
        Assert.That(error.TrimEnd(), Is.EqualTo("error: model file '/nonexistent/model.zip' does not exist."));
    }

    [Test]
    public void AFileThatIsNotAModelStopsTheServiceWithOneErrorLine()
    {
        var path = Path.Combine(Path.GetTempPath(), $"mlnetlstm-not-a-model-{Guid.NewGuid():N}.zip");
        File.WriteAllText(path, "not a zip");
        try
        {
            var (exitCode, error) = RunMain(["--model", path, "--urls", "http://127.0.0.1:0"]);
            Assert.That(exitCode, Is.EqualTo(1));
            Assert.That(error, Does.StartWith($"error: cannot serve '{path}'"));
            Assert.That(error.TrimEnd().Split('\n'), Has.Length.EqualTo(1), error);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestCase("--scoring", "fast", "--scoring must be 'engines' or 'transformer'")]
    [TestCase("--max-batch-rows", "0", "--max-batch-rows must be a positive whole number")]
    [TestCase("--max-request-bytes", "1e6", "--max-request-bytes must be a positive whole number")]
    [TestCase("--torch-threads", "-1", "--torch-threads must be a positive whole number")]
    public void BadSettingsAreOneErrorLine(string option, string value, string message)
    {
        var (exitCode, error) = RunMain([option, value, "--model", ServedModels.Digits]);
        Assert.That(exitCode, Is.EqualTo(WebService.Program.BadArguments));
        Assert.That(error, Does.StartWith("error: " + message));
        Assert.That(error.TrimEnd().Split('\n'), Has.Length.EqualTo(1), error);
    }

    private static (int ExitCode, string Error) RunMain(string[] args)
    {
        var error = new StringWriter();
        var saved = Console.Error;
        Console.SetError(error);
        try
        {
            return (WebService.Program.Main(args), error.ToString());
        }
        finally
        {
            Console.SetError(saved);
            TestContext.Out.Write(error.ToString());
        }
    }

    private async Task AssertStillServing(HttpClient client)
    {
        var prediction = await PredictAsync(client, testDigits[0].Features);
        Assert.That(prediction.Score, Is.EqualTo(offlineDigits.Predict(testDigits[0]).Score));
    }

    private static async Task AssertProblem(HttpResponseMessage response, string detail)
    {
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo(ProblemJson));
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.That(problem.RootElement.GetProperty("status").GetInt32(), Is.EqualTo((int)response.StatusCode));
        Assert.That(problem.RootElement.GetProperty("detail").GetString(), Does.Contain(detail));
    }

    private static async Task<Prediction> PredictAsync(HttpClient client, float[] features) =>
        ReadPrediction(await PostJson(client, "/predict", new { features }));

    private static Prediction ReadPrediction(JsonElement element) => new(
        element.GetProperty("predictedLabel").GetString()!,
        element.GetProperty("score").EnumerateArray().Select(v => v.GetSingle()).ToArray());

    private static async Task<JsonElement> PostJson(HttpClient client, string path, object body)
    {
        var response = await client.PostAsync(path, Json(body));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
    }

    private static async Task<JsonElement> GetJson(HttpClient client, string path)
    {
        var response = await client.GetAsync(path);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
    }

    private static HttpContent Json(object body) => JsonContent.Create(body);

    private static string Floats(int count, float value) =>
        "[" + string.Join(",", Enumerable.Repeat(value.ToString("R", CultureInfo.InvariantCulture), count)) + "]";

    /// <summary>A body sent without Content-Length (chunked), so only the service's own count can stop it.</summary>
    private sealed class UnknownLengthStream(byte[] content) : MemoryStream(content)
    {
        public override bool CanSeek => false;
    }
}
