using Microsoft.ML;
using MlNetLstm.Mnist;

namespace MlNetLstm;

/// <summary>Adds MNIST loading to <c>mlContext.Data</c>.</summary>
public static class MnistCatalog
{
    /// <summary>
    /// Loads an MNIST image file and label file in IDX format (plain or gzip-compressed) as an
    /// <see cref="IDataView"/> with columns <c>Label</c> (<see cref="float"/>, the digit) and
    /// <c>Features</c> (<c>Vector&lt;float, rows × cols&gt;</c>, pixels scaled to [0, 1]).
    /// </summary>
    /// <param name="catalog">The data catalog, <c>mlContext.Data</c>.</param>
    /// <param name="imagesPath">An IDX image file (magic 0x00000803), e.g. <c>train-images-idx3-ubyte.gz</c>.</param>
    /// <param name="labelsPath">The matching IDX label file (magic 0x00000801).</param>
    /// <remarks>
    /// Both files are checked when this is called — magic numbers, image size, that the counts match and
    /// that each file holds exactly the items its header announces — so a damaged download fails here.
    /// Cursors then stream from the files; nothing is cached in memory.
    /// </remarks>
    /// <exception cref="FileNotFoundException">A file does not exist.</exception>
    /// <exception cref="InvalidDataException">A file is not valid IDX, or the two do not match; the message names the file.</exception>
    public static IDataView LoadFromMnistIdx(this DataOperationsCatalog catalog, string imagesPath, string labelsPath)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(imagesPath);
        ArgumentNullException.ThrowIfNull(labelsPath);
        return new MnistIdxDataView(imagesPath, labelsPath);
    }
}
