namespace MlNetLstm.Tests;

/// <summary>The MNIST digits shipped in assets/inputs/mnist, found from the test assembly's folder.</summary>
public static class ShippedData
{
    public static string Folder { get; } = Locate();

    private static string Locate()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "assets", "inputs", "mnist");
            if (File.Exists(Path.Combine(dir.FullName, "MlNetLstm.sln")) && Directory.Exists(candidate))
                return candidate;
        }
        throw new DirectoryNotFoundException("assets/inputs/mnist was not found above " + AppContext.BaseDirectory);
    }
}
