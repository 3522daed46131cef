using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetLstm;

namespace WebService;

/// <summary>One shipped MNIST test digit: its pixels (÷ 255, row by row) and its true label.</summary>
public sealed record TestDigit(int Index, string Label, float[] Features);

/// <summary>
/// The MNIST test digits shipped with the repository (assets/inputs/mnist/t10k-*.gz), copied beside the
/// app by its project file and read on first use.
/// </summary>
public sealed class ShippedDigits
{
    private readonly Lazy<TestDigit[]> digits;

    public ShippedDigits() : this(Path.Combine(AppContext.BaseDirectory, "mnist")) { }

    public ShippedDigits(string folder)
    {
        Folder = folder;
        digits = new Lazy<TestDigit[]>(Read);
    }

    public string Folder { get; }

    /// <summary>How many there are; 0 when the files are not there.</summary>
    public int Count => digits.Value.Length;

    public TestDigit this[int index] => digits.Value[index];

    private TestDigit[] Read()
    {
        if (Find("t10k-images-idx3-ubyte") is not string images || Find("t10k-labels-idx1-ubyte") is not string labels)
            return [];
        var data = new MLContext().Data.LoadFromMnistIdx(images, labels);
        return data.GetColumn<float>("Label")
            .Zip(data.GetColumn<float[]>("Features"))
            .Select((row, i) => new TestDigit(i, row.First.ToString("R", CultureInfo.InvariantCulture), row.Second))
            .ToArray();
    }

    private string? Find(string name) =>
        new[] { name + ".gz", name }.Select(file => Path.Combine(Folder, file)).FirstOrDefault(File.Exists);
}
