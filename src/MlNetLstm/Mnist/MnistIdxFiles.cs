namespace MlNetLstm;

/// <summary>
/// The four files of a standard MNIST download in one folder: <c>train-images-idx3-ubyte</c>,
/// <c>train-labels-idx1-ubyte</c>, <c>t10k-images-idx3-ubyte</c> and <c>t10k-labels-idx1-ubyte</c>,
/// each plain or with a <c>.gz</c> suffix.
/// </summary>
/// <param name="TrainImages">Path of the training images.</param>
/// <param name="TrainLabels">Path of the training labels.</param>
/// <param name="TestImages">Path of the test images.</param>
/// <param name="TestLabels">Path of the test labels.</param>
public sealed record MnistIdxFiles(string TrainImages, string TrainLabels, string TestImages, string TestLabels)
{
    /// <summary>Finds the four files in <paramref name="folder"/>.</summary>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="FileNotFoundException">A file is missing; the message names it.</exception>
    public static MnistIdxFiles InFolder(string folder)
    {
        ArgumentNullException.ThrowIfNull(folder);
        if (!Directory.Exists(folder))
            throw new DirectoryNotFoundException($"MNIST data folder '{folder}' does not exist.");
        return new MnistIdxFiles(
            Find(folder, "train-images-idx3-ubyte"),
            Find(folder, "train-labels-idx1-ubyte"),
            Find(folder, "t10k-images-idx3-ubyte"),
            Find(folder, "t10k-labels-idx1-ubyte"));
    }

    private static string Find(string folder, string name)
    {
        foreach (var candidate in new[] { name, name + ".gz" })
        {
            var path = Path.Combine(folder, candidate);
            if (File.Exists(path))
                return path;
        }
        throw new FileNotFoundException(
            $"MNIST data folder '{folder}' has no '{name}' or '{name}.gz'.", Path.Combine(folder, name));
    }
}
