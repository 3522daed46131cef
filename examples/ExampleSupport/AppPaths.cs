namespace ExampleSupport;

/// <summary>Where an example app finds the data shipped with it and writes its outputs by default.</summary>
public static class AppPaths
{
    /// <summary>A folder or file that the app's project file copies next to the app (its shipped data).</summary>
    public static string BesideApp(string relativePath) => Path.Combine(AppContext.BaseDirectory, relativePath);

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
