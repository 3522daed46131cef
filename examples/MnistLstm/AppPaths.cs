namespace MnistLstm;

/// <summary>Where the app finds its data and writes its outputs by default.</summary>
public static class AppPaths
{
    /// <summary>The shipped digits, copied next to the app by the project file.</summary>
    public static string DefaultDataFolder => Path.Combine(AppContext.BaseDirectory, "mnist");

    /// <summary>
    /// The repository's assets/outputs (gitignored), found by walking up to MlNetLstm.sln, so
    /// `dotnet run` leaves its files in one known place; assets/outputs under the app folder otherwise.
    /// </summary>
    public static string DefaultOutputFolder
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "MlNetLstm.sln")))
                    return Path.Combine(dir.FullName, "assets", "outputs");
            return Path.Combine(AppContext.BaseDirectory, "assets", "outputs");
        }
    }
}
