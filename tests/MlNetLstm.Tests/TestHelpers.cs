using System.Diagnostics;
using System.IO.Compression;

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
