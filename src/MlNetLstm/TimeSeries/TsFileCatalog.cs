using Microsoft.ML;
using MlNetLstm.TimeSeries;

namespace MlNetLstm;

/// <summary>Adds loading of UCR/UEA time-series classification files (<c>.ts</c>) to <c>mlContext.Data</c>.</summary>
public static class TsFileCatalog
{
    /// <summary>
    /// Loads a UCR/UEA time-series classification file in the archive's <c>.ts</c> format (plain, or
    /// gzip-compressed whatever its extension) as an in-memory <see cref="IDataView"/> with columns
    /// <c>Label</c> (text, the class label as written) and <c>Features</c> (<see cref="float"/> values
    /// step-major: channel <c>c</c> of step <c>t</c> is element <c>t × channels + c</c>).
    /// </summary>
    /// <param name="catalog">The data catalog, <c>mlContext.Data</c>.</param>
    /// <param name="path">The <c>.ts</c> or <c>.ts.gz</c> file, e.g. <c>JapaneseVowels_TRAIN.ts</c>.</param>
    /// <remarks>
    /// <para>
    /// <c>Features</c> is a known-size vector (<c>Vector&lt;Single, length × channels&gt;</c>) when every case
    /// has the same length, and a variable-size vector otherwise. Missing values (<c>?</c> or <c>NaN</c>) are
    /// <see cref="float.NaN"/>, including the trailing NaNs of files padded to equal length.
    /// </para>
    /// <para>
    /// The whole file is read and checked when this is called; a file that is not valid fails here, not
    /// later in a pipeline. Header keywords are matched in any letter case and order; a keyword given twice
    /// keeps its last value; <c>#</c> and <c>%</c> comment lines and blank lines are skipped anywhere.
    /// An unknown <c>@keyword</c> is refused. A file declared <c>@classLabel false</c> is read with an empty
    /// <c>Label</c> (ML.NET's missing text) for every case. Numbers are read in the invariant culture;
    /// infinities and numbers beyond the range of <see cref="float"/> are refused. White space around values
    /// and labels is ignored; labels must match a declared label exactly (letter case included).
    /// <c>@seriesLength</c> is enforced unless the file says <c>@equalLength false</c>; <c>@equalLength true</c>
    /// without it makes every case as long as the first. A line may hold at most 2^26 characters.
    /// </para>
    /// </remarks>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">
    /// The file is not a valid <c>.ts</c> file, or its gzip data is damaged; the message names the file and
    /// (for a format error) the 1-based line, and says what was expected.
    /// </exception>
    /// <exception cref="NotSupportedException">
    /// A regression file (<c>@targetLabel true</c>) or one with time stamps (<c>@timeStamps true</c>): only
    /// classification files of plain values are read.
    /// </exception>
    public static IDataView LoadFromTsFile(this DataOperationsCatalog catalog, string path) =>
        LoadFromTsFile(catalog, path, out _);

    /// <summary>
    /// Loads a UCR/UEA <c>.ts</c> file as <see cref="LoadFromTsFile(DataOperationsCatalog, string)"/> does,
    /// and also gives what was found in it (name, channels, lengths, labels, case count, missing values).
    /// </summary>
    /// <param name="catalog">The data catalog, <c>mlContext.Data</c>.</param>
    /// <param name="path">The <c>.ts</c> or <c>.ts.gz</c> file.</param>
    /// <param name="info">The file's facts, e.g. <see cref="TsFileInfo.Channels"/> and <see cref="TsFileInfo.MaxLength"/>
    /// for <see cref="LstmClassifierOptions.SequenceLength"/>.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not valid; the message names the file and the 1-based line.</exception>
    /// <exception cref="NotSupportedException">A regression file or one with time stamps.</exception>
    public static IDataView LoadFromTsFile(this DataOperationsCatalog catalog, string path, out TsFileInfo info)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(path);
        var file = TsFile.Read(path);
        info = file.Info;
        return new TsDataView(file);
    }
}
