using static TorchSharp.torch;

namespace MlNetLstm.Tests;

public class TorchSharpRuntimeTests
{
    [Test]
    public void NativeLibraryLoadsAndRunsAnLstm()
    {
        using var scope = NewDisposeScope();
        Assert.That(ones(3).sum().item<float>(), Is.EqualTo(3f));
        using var lstm = nn.LSTM(28, 128, batchFirst: true);
        var (output, _, _) = lstm.call(randn(2, 5, 28));
        Assert.That(output.shape, Is.EqualTo(new long[] { 2, 5, 128 }));
    }
}
