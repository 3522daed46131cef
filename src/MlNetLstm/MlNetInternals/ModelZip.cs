using System.IO.Compression;
using System.Reflection;
using System.Runtime.CompilerServices;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using MlNetLstm;
using MlNetLstm.MlNetInternals;
using MlNetLstm.Persistence;

[assembly: LoadableClass(typeof(LstmClassifierTransformer), typeof(ModelZip), null, typeof(SignatureLoadModel),
    "LSTM Classifier", ModelZip.LoaderSignature)]

namespace MlNetLstm.MlNetInternals;

/// <summary>
/// Saves the classifier into ML.NET's model zip and registers how to load it, so a plain
/// <c>mlContext.Model.Load</c> in any process restores it without a registration call.
/// </summary>
internal static class ModelZip
{
    public const string LoaderSignature = "MlNetLstmClassifier";
    public const string ModelEntry = "LstmClassifier.bin";
    private const string ModelSignature = "MNLSTMCL";
    private const uint VersionBase = 0x00010000;

    // ML.NET's header carries LstmModelFormat's version (its history is there): what this code writes,
    // the oldest reader that can read it, and the oldest version this code reads back.
    private static VersionInfo GetVersionInfo() => new(
        modelSignature: ModelSignature,
        verWrittenCur: VersionBase + LstmModelFormat.CurrentVersion,
        verReadableCur: VersionBase + LstmModelFormat.ReadableByVersion,
        verWeCanReadBack: VersionBase + LstmModelFormat.OldestReadableVersion,
        loaderAssemblyName: typeof(ModelZip).Assembly.FullName,
        loaderSignature: LoaderSignature);

    /// <summary>Writes <paramref name="write"/>'s entry; the caller holds the model against disposal meanwhile.</summary>
    public static void Save(ModelSaveContext ctx, Action<Stream> write)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        InternalApiCheck.EnsureCompatible();
        SaveChecked(ctx, write);
    }

    // Not inlined: JIT-compiled (and its internal references resolved) only after the check passed.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void SaveChecked(ModelSaveContext ctx, Action<Stream> write)
    {
        ctx.CheckAtModel();
        ctx.SetVersionInfo(GetVersionInfo());
        ctx.SaveBinaryStream(ModelEntry, writer =>
        {
            writer.Flush();
            write(writer.BaseStream);
        });
    }

    // Found by ML.NET's component catalog through the LoadableClass attribute above.
    private static LstmClassifierTransformer Create(IHostEnvironment env, ModelLoadContext ctx)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(ctx);
        InternalApiCheck.EnsureCompatible();
        return CreateChecked(env, ctx);
    }

    // Not inlined, like SaveChecked. Not named Create: ML.NET looks the loader up by that name.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static LstmClassifierTransformer CreateChecked(IHostEnvironment env, ModelLoadContext ctx)
    {
        ctx.CheckAtModel(GetVersionInfo());
        // ML.NET's own TryLoadBinaryStream would first inflate the whole entry to a temporary file:
        // reading it straight from the zip lets a damaged or hostile entry be refused after the bytes its
        // header promises, in bounded time, memory and disk.
        var entry = FindEntry(ctx)
            ?? throw new InvalidDataException($"The model file has no '{ModelEntry}' entry for the LSTM classifier.");
        using var stream = entry.Open();
        return new LstmClassifierTransformer(LstmModelFormat.Read(stream, entry.Length));
    }

    /// <summary>The classifier's zip entry in the directory <paramref name="ctx"/> loads from, unopened.</summary>
    private static ZipArchiveEntry? FindEntry(ModelLoadContext ctx)
    {
        // A private field: ML.NET has no API for an entry's declared length or its unextracted stream.
        var entriesField = typeof(RepositoryReader).GetField(InternalApiCheck.RepositoryEntriesField, BindingFlags.Instance | BindingFlags.NonPublic);
        if (ctx.Repository is not RepositoryReader repository
            || entriesField?.GetValue(repository) is not Dictionary<string, ZipArchiveEntry> entries)
            return null;
        // The same path ML.NET computes for the entry; zips written elsewhere may use backslashes.
        repository.GetPath(out string path, out _, ctx.Directory, ModelEntry, false);
        return entries.GetValueOrDefault(path) ?? entries.GetValueOrDefault(path.Replace('/', '\\'));
    }
}
