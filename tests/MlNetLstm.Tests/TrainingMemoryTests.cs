namespace MlNetLstm.Tests;

/// <summary>Fit holds the training rows once, whatever the source: no growing copies, no second full copy.</summary>
public class TrainingMemoryTests
{
    [TestCase("streamed", Description = "a source that does not report its row count")]
    [TestCase("counted", Description = "a source that reports its row count")]
    public void FitPeaksAtMostOnePointThreeTimesTheTrainingData(string source)
    {
        // In a process of its own, so the peak (VmHWM) is Fit's alone.
        var output = ChildProcess.RunTestProgram("fit-peak", "60000", "784", source).Trim().Split(' ');
        long growth = long.Parse(output[0]), data = long.Parse(output[1]);
        TestContext.Out.WriteLine($"{source}: peak grew {growth / 1e6:F1} MB for {data / 1e6:F1} MB of rows ({(double)growth / data:F2}x)");
        Assert.That(growth, Is.LessThanOrEqualTo(1.3 * data + 32e6));
    }
}
