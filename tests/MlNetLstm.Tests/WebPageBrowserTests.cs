using System.Globalization;
using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using OpenQA.Selenium.Interactions;
using OpenQA.Selenium.Support.UI;

namespace MlNetLstm.Tests;

/// <summary>
/// examples/WebService's page in headless Chromium (Debian's chromium and chromium-driver; nothing is
/// downloaded), against the service on a real loopback port: a shipped test digit shows the library's
/// prediction, a stroke drawn with the mouse gets probabilities that sum to 1, and a model that does not
/// read digits gets its description and a features box.
/// </summary>
[NonParallelizable]
public class WebPageBrowserTests
{
    private const string Chromium = "/usr/bin/chromium";
    private const string ChromeDriverFolder = "/usr/bin";
    private const string ChromeDriverFile = "chromedriver";
    private const int ShownDigit = 7;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private ServiceFactory service = null!;
    private ServiceFactory sequenceService = null!;
    private Uri address = null!;
    private Uri sequenceAddress = null!;
    private string profile = null!;
    private ChromeDriver? browser;

    /// <summary>Where the screenshot of the page goes (README's docs/web-service.png is a copy).</summary>
    public static string ScreenshotPath => Path.Combine(TestContext.CurrentContext.WorkDirectory, "web-service.png");

    [OneTimeSetUp]
    public async Task StartServiceAndBrowser()
    {
        if (!File.Exists(Chromium) || !File.Exists(Path.Combine(ChromeDriverFolder, ChromeDriverFile)))
        {
            const string why = "headless Chromium is not installed (" + Chromium + ", /usr/bin/chromedriver): " +
                               "`apt-get install -y chromium chromium-driver` (.ci/run installs them)";
            // CI installs them, so there their absence is a failure rather than a skip.
            if (Environment.GetEnvironmentVariable("CI") == "true")
                Assert.Fail(why);
            Assert.Ignore(why);
        }
        service = new ServiceFactory(ServedModels.Digits);
        service.UseKestrel(0);
        address = (await service.ReadyClientAsync()).BaseAddress!;
        sequenceService = new ServiceFactory(ServedModels.Sequences);
        sequenceService.UseKestrel(0);
        sequenceAddress = (await sequenceService.ReadyClientAsync()).BaseAddress!;

        profile = Directory.CreateTempSubdirectory("mlnetlstm-chromium-").FullName;
        var options = new ChromeOptions { BinaryLocation = Chromium };
        // As root in a container, on a machine whose only network is loopback: no sandbox, no GPU, no
        // background traffic, a profile of its own.
        options.AddArguments("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
            "--window-size=1100,900", $"--user-data-dir={profile}");
        var driverService = ChromeDriverService.CreateDefaultService(ChromeDriverFolder, ChromeDriverFile);
        driverService.SuppressInitialDiagnosticInformation = true;
        browser = new ChromeDriver(driverService, options, Patience);
    }

    [OneTimeTearDown]
    public void StopBrowserAndService()
    {
        browser?.Quit();
        service?.Dispose();
        sequenceService?.Dispose();
        if (profile is not null)
            Directory.Delete(profile, recursive: true);
    }

    [Test]
    public void AShippedTestDigitShowsTheLibrarysPrediction()
    {
        var digit = ServedModels.TestDigits(ShownDigit + 1)[ShownDigit];
        using var offline = new OfflineModel<DigitInput, DigitOutput>(ServedModels.Digits);
        var expected = offline.Predict(digit);
        string expectedLabel = expected.PredictedLabel.ToString(CultureInfo.InvariantCulture);

        var page = OpenPage();
        var index = page.FindElement(By.Id("sample-index"));
        index.Clear();
        index.SendKeys(ShownDigit.ToString(CultureInfo.InvariantCulture));
        page.FindElement(By.Id("show-sample")).Click();

        Wait(page, p => p.FindElement(By.Id("sample-note")).Text.Contains($"Test digit {ShownDigit}"), "the digit's caption");
        Wait(page, p => p.FindElement(By.Id("predicted")).Text == expectedLabel, $"the library's prediction '{expectedLabel}'");
        var bars = Probabilities(page);
        Assert.That(bars.Select(b => b.Label), Is.EqualTo(Enumerable.Range(0, 10).Select(d => d.ToString(CultureInfo.InvariantCulture))));
        Assert.That(bars.Select(b => b.Probability), Is.EqualTo(expected.Score.Select(s => (double)s)).Within(1e-6), "each bar is the class's probability");
        Assert.That(page.FindElement(By.CssSelector("#bars li.top .label")).Text, Is.EqualTo(expectedLabel));
    }

    [Test]
    public void AStrokeDrawnWithTheMouseGetsProbabilitiesThatSumToOne()
    {
        var page = OpenPage();
        page.FindElement(By.Id("clear")).Click();
        var pad = page.FindElement(By.Id("pad"));
        Assert.That(InkOnPad(page), Is.Zero);

        // A "7": across the top, then down to the left. Offsets from the pad's centre, in CSS pixels.
        new Actions(page)
            .MoveToElement(pad, -70, -85).ClickAndHold()
            .MoveByOffset(35, 0).MoveByOffset(35, 0).MoveByOffset(35, 0).MoveByOffset(35, 0)
            .Perform();
        Wait(page, p => p.FindElement(By.Id("predicted")).Text is { Length: > 0 } label && label != "–", "a prediction while the button is still down");
        new Actions(page)
            .MoveByOffset(-20, 45).MoveByOffset(-20, 45).MoveByOffset(-20, 45).MoveByOffset(-20, 45)
            .Release()
            .Perform();

        Assert.That(InkOnPad(page), Is.GreaterThan(10), "the stroke is on the pad");
        // The last answer is for the whole stroke once no request is in flight; its bars sum to 1.
        Wait(page, p => Math.Abs(Probabilities(p).Sum(b => b.Probability) - 1) < 1e-4, "probabilities that sum to 1");
        var bars = Probabilities(page);
        Assert.That(bars, Has.Count.EqualTo(10));
        Assert.That(bars.Select(b => b.Probability), Has.All.InRange(0.0, 1.0));
        Assert.That(page.FindElement(By.CssSelector("#bars li.top .label")).Text, Is.EqualTo(page.FindElement(By.Id("predicted")).Text));

        Thread.Sleep(300); // the bars' 120 ms transition, for the picture
        page.GetScreenshot().SaveAsFile(ScreenshotPath);
        TestContext.AddTestAttachment(ScreenshotPath, "the page after drawing a 7");
        TestContext.Out.WriteLine($"Screenshot: {ScreenshotPath}");
    }

    [Test]
    public void AnyOtherModelShowsItsDescriptionAndTakesAFeaturesArray()
    {
        var row = VariableSequences.Make(1, 5)[0];
        using var offline = new OfflineModel<VariableRow, SequenceOutput>(ServedModels.Sequences);
        var expected = offline.Predict(row);

        browser!.Navigate().GoToUrl(sequenceAddress);
        Wait(browser, p => p.FindElement(By.Id("features-ui")).Displayed, "the features box");
        Assert.That(browser.FindElement(By.Id("digit-ui")).Displayed, Is.False);
        Assert.That(browser.FindElement(By.Id("model-info")).Text, Does.Contain("\"inputSize\": 2").And.Contain("\"featureLength\": null"));

        var box = browser.FindElement(By.Id("features-text"));
        box.SendKeys("[" + string.Join(", ", row.Features.Select(v => v.ToString("R", CultureInfo.InvariantCulture))) + "]");
        browser.FindElement(By.Id("predict-text")).Click();
        Wait(browser, p => p.FindElement(By.Id("predicted")).Text == expected.PredictedLabel, $"the library's prediction '{expected.PredictedLabel}'");
        Assert.That(Probabilities(browser).Select(b => b.Probability), Is.EqualTo(expected.Score.Select(s => (double)s)).Within(1e-6));

        box.Clear();
        box.SendKeys("[1, 2, 3]");
        browser.FindElement(By.Id("predict-text")).Click();
        Wait(browser, p => p.FindElement(By.Id("status")).Text.Contains("'features' has 3 values"), "the service's reason for refusing 3 values");
    }

    private ChromeDriver OpenPage()
    {
        browser!.Navigate().GoToUrl(address);
        Wait(browser, p => p.FindElement(By.Id("digit-ui")).Displayed, "the drawing pad of a digit model");
        return browser;
    }

    private static List<(string Label, double Probability)> Probabilities(IWebDriver page) =>
        page.FindElements(By.CssSelector("#bars li"))
            .Select(li => (li.FindElement(By.ClassName("label")).Text,
                double.Parse(li.GetDomAttribute("data-probability") ?? "NaN", CultureInfo.InvariantCulture)))
            .ToList();

    /// <summary>Pixels of the 28 × 28 pad that are not black.</summary>
    private static long InkOnPad(ChromeDriver page) => (long)page.ExecuteScript(
        "const d = document.getElementById('pad').getContext('2d').getImageData(0, 0, 28, 28).data;" +
        "let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] > 0) n++; return n;")!;

    private static void Wait(IWebDriver page, Func<IWebDriver, bool> condition, string what)
    {
        try
        {
            new WebDriverWait(page, Patience).Until(condition);
        }
        catch (WebDriverTimeoutException)
        {
            Assert.Fail($"The page did not show {what} within {Patience.TotalSeconds} s. Status line: '{page.FindElement(By.Id("status")).Text}'.");
        }
    }
}
