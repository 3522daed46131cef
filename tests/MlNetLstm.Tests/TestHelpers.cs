using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Compression;
using System.Text;

namespace MlNetLstm.Tests;

/// <summary>A fresh temporary folder for each test, deleted afterwards.</summary>
public abstract class TempFolderTest
{
    protected string Folder { get; private set; } = "";

    [SetUp]
    public void CreateFolder() => Folder = Directory.CreateTempSubdirectory("mlnetlstm-test-").FullName;

    [TearDown]
    public void DeleteFolder() => Directory.Delete(Folder, recursive: true);
}

/// <summary>An MLContext's log messages, collected as they are written (from any thread).</summary>
public static class LogCapture
{
    /// <summary>The messages that contain any of <paramref name="markers"/> (all of them when none is given), in the order written.</summary>
    public static List<string> Collect(Microsoft.ML.MLContext mlContext, params string[] markers)
    {
        var lines = new List<string>();
        mlContext.Log += (_, e) =>
        {
            if (markers.Length == 0 || markers.Any(marker => e.Message.Contains(marker, StringComparison.Ordinal)))
            {
                lock (lines)
                    lines.Add(e.Message);
            }
        };
        return lines;
    }
}

public static class ChildProcess
{
    /// <summary>Runs this test assembly's own Main (Program.cs) in a new process; returns its output.</summary>
    public static string RunTestProgram(params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(typeof(Program).Assembly.Location);
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        Assert.That(process.WaitForExit(120_000), "the child process finished");
        Assert.That(process.ExitCode, Is.EqualTo(0), error.Result);
        return output.Result;
    }
}

public static class ZipEntries
{
    /// <summary>Replaces the content of the entries of a zip file that <paramref name="rewrite"/> changes.</summary>
    public static void Rewrite(string path, Func<string, bool> select, Func<byte[], byte[]?> rewrite)
    {
        using var zip = ZipFile.Open(path, ZipArchiveMode.Update);
        foreach (var entry in zip.Entries.Where(e => select(e.FullName)).ToList())
        {
            byte[] content;
            using (var stream = entry.Open())
            using (var copy = new MemoryStream())
            {
                stream.CopyTo(copy);
                content = copy.ToArray();
            }
            if (rewrite(content) is not byte[] replacement)
                continue;
            var name = entry.FullName;
            entry.Delete();
            using var replaced = zip.CreateEntry(name).Open();
            replaced.Write(replacement);
        }
    }
}

/// <summary>Unlike <see cref="Progress{T}"/>, reports on the calling thread, so a test sees every report in order.</summary>
public sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}

/// <summary>The dotnet command line as a user types it, for tests that build apps of their own.</summary>
public static class DotnetCli
{
    private static readonly TimeSpan StepTimeout = TimeSpan.FromMinutes(3);

    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "MlNetLstm.sln")))
                return dir.FullName;
        }
        throw new InvalidOperationException($"MlNetLstm.sln not found above {AppContext.BaseDirectory}");
    }

    /// <summary>
    /// Writes a console app of its own into <paramref name="folder"/>: <paramref name="projectName"/>.csproj
    /// (net10.0, with <paramref name="packageReferences"/> as its item group's content) and Program.cs. Empty
    /// Directory.Build.* files stop MSBuild from picking up the repository's, so it builds as a user's app.
    /// </summary>
    public static void WriteConsoleApp(string folder, string projectName, string program, string packageReferences = "")
    {
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "Directory.Build.props"), "<Project />\n");
        File.WriteAllText(Path.Combine(folder, "Directory.Build.targets"), "<Project />\n");
        File.WriteAllText(Path.Combine(folder, projectName + ".csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
              </PropertyGroup>
              <ItemGroup>
                {packageReferences}
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(folder, "Program.cs"), program);
    }

    /// <summary>Runs dotnet with <paramref name="arguments"/>; fails the test with its whole output unless it exits 0.</summary>
    public static string Run(string directory, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        // Not the test host's MSBuild/VSTest settings: the child is a plain dotnet command, as a user types it.
        foreach (var key in start.Environment.Keys.ToList())
        {
            if (key.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase) || key.StartsWith("VSTEST", StringComparison.OrdinalIgnoreCase))
                start.Environment.Remove(key);
        }
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["MSBUILDDISABLENODEREUSE"] = "1"; // leave no MSBuild node processes behind

        var output = new StringBuilder();
        var watch = Stopwatch.StartNew();
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine("stderr: " + e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        bool exited = process.WaitForExit(StepTimeout);
        if (!exited)
            process.Kill(entireProcessTree: true);
        process.WaitForExit(); // drains the output
        var command = $"dotnet {string.Join(' ', arguments)} (in {directory})";
        TestContext.Progress.WriteLine($"{command}: {watch.Elapsed.TotalSeconds:F1} s");
        string text;
        lock (output) text = output.ToString();
        if (!exited)
            Assert.Fail($"{command} did not finish within {StepTimeout}. Output:\n{text}");
        if (process.ExitCode != 0)
            Assert.Fail($"{command} exited with {process.ExitCode}. Output:\n{text}");
        return text;
    }
}

public static class Png
{
    /// <summary>Width and height from the IHDR chunk, after checking the PNG signature.</summary>
    public static (int Width, int Height) Size(string path)
    {
        var bytes = File.ReadAllBytes(path);
        Assert.That(bytes.Length, Is.GreaterThan(24));
        Assert.That(bytes[..8], Is.EqualTo(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A }));
        Assert.That(Encoding.ASCII.GetString(bytes, 12, 4), Is.EqualTo("IHDR"));
        return (BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16)), BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20)));
    }
}
