using System.IO.Compression;
using Microsoft.ML;
using MlNetLstm.MlNetInternals;
using MlNetLstm.Persistence;

namespace MlNetLstm;

/// <summary>Saving models so that a failed save never destroys the file it was replacing.</summary>
public static class ModelFileCatalog
{
    /// <summary>
    /// Saves <paramref name="model"/> like <c>mlContext.Model.Save(model, inputSchema, filePath)</c>, but
    /// writes a temporary file beside <paramref name="filePath"/> and renames it into place only once it
    /// is complete and every LSTM classifier in it reads back intact (checksum, shape, every weight). If
    /// saving fails half-way (a disposed transformer, a full disk) or the written file does not read back,
    /// an existing file at <paramref name="filePath"/> is left exactly as it was. ML.NET's own
    /// <c>Save</c> truncates the target first.
    /// </summary>
    /// <exception cref="InvalidOperationException">The written file did not read back; nothing was replaced.</exception>
    /// <param name="catalog">The model catalog, <c>mlContext.Model</c>.</param>
    /// <param name="model">The fitted pipeline.</param>
    /// <param name="inputSchema">The schema of the data the pipeline reads.</param>
    /// <param name="filePath">Where the model zip goes.</param>
    public static void SaveAtomically(this ModelOperationsCatalog catalog, ITransformer model, DataViewSchema inputSchema, string filePath) =>
        SaveAtomically(catalog, model, inputSchema, filePath, afterWrite: null);

    // afterWrite: called with the temporary file once it is written, before it is read back (tests damage it).
    internal static void SaveAtomically(
        ModelOperationsCatalog catalog, ITransformer model, DataViewSchema inputSchema, string filePath, Action<string>? afterWrite)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrEmpty(filePath);
        var fullPath = Path.GetFullPath(filePath);
        var temporary = Path.Combine(Path.GetDirectoryName(fullPath)!, $".{Path.GetFileName(fullPath)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write))
            {
                catalog.Save(model, inputSchema, stream);
                stream.Flush(flushToDisk: true);
            }
            afterWrite?.Invoke(temporary);
            VerifyClassifiers(temporary, fullPath, CountClassifiers(model));
            File.Move(temporary, fullPath, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    /// <summary>Reads back every classifier entry of a written model zip; there must be at least <paramref name="expected"/>.</summary>
    private static void VerifyClassifiers(string path, string destination, int expected)
    {
        int found = 0;
        try
        {
            using var zip = ZipFile.OpenRead(path);
            foreach (var entry in zip.Entries.Where(e => Path.GetFileName(e.FullName.Replace('\\', '/')) == ModelZip.ModelEntry))
            {
                using var stream = entry.Open();
                LstmModelFormat.Verify(stream, entry.Length);
                found++;
            }
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            throw new InvalidOperationException($"The model was not saved to '{destination}': the file written does not read back ({e.Message}).", e);
        }
        if (found < expected)
            throw new InvalidOperationException(
                $"The model was not saved to '{destination}': the file written holds {found} LSTM classifier entries where the model has {expected}.");
    }

    private static int CountClassifiers(ITransformer model) => model switch
    {
        LstmClassifierTransformer => 1,
        IEnumerable<ITransformer> chain => chain.Sum(CountClassifiers),
        _ => 0,
    };
}
