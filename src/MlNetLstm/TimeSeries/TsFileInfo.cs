namespace MlNetLstm;

/// <summary>
/// What <see cref="TsFileCatalog.LoadFromTsFile(Microsoft.ML.DataOperationsCatalog, string, out TsFileInfo)"/>
/// found in a UCR/UEA <c>.ts</c> file: its declared name and labels, and the shape of its cases as read.
/// </summary>
public sealed class TsFileInfo
{
    internal TsFileInfo(
        string path, string? problemName, int channels, int minLength, int maxLength,
        IReadOnlyList<string> classLabels, int caseCount, bool hasMissingValues)
    {
        Path = path;
        ProblemName = problemName;
        Channels = channels;
        MinLength = minLength;
        MaxLength = maxLength;
        ClassLabels = classLabels;
        CaseCount = caseCount;
        HasMissingValues = hasMissingValues;
    }

    /// <summary>The path the file was loaded from, as it was passed to the loader.</summary>
    public string Path { get; }

    /// <summary>The value of the file's <c>@problemName</c> line (the last one, if there are several), or null without one.</summary>
    public string? ProblemName { get; }

    /// <summary>Number of channels (dimensions) of every case: 1 for a univariate problem.</summary>
    public int Channels { get; }

    /// <summary>Number of time steps of the shortest case.</summary>
    public int MinLength { get; }

    /// <summary>Number of time steps of the longest case.</summary>
    public int MaxLength { get; }

    /// <summary>
    /// True when every case has the same number of time steps, so the <c>Features</c> column is a
    /// known-size vector of <see cref="MaxLength"/> × <see cref="Channels"/> values.
    /// </summary>
    public bool EqualLength => MinLength == MaxLength;

    /// <summary>
    /// The class labels declared by <c>@classLabel true</c>, in declared order; empty for a file
    /// declared <c>@classLabel false</c> (its <c>Label</c> column is then empty text, ML.NET's missing value).
    /// </summary>
    public IReadOnlyList<string> ClassLabels { get; }

    /// <summary>Number of cases (rows) in the file.</summary>
    public int CaseCount { get; }

    /// <summary>True when any value was missing (<c>?</c> or <c>NaN</c> in the file, <see cref="float.NaN"/> in <c>Features</c>).</summary>
    public bool HasMissingValues { get; }

    /// <inheritdoc/>
    public override string ToString() =>
        $"{ProblemName ?? System.IO.Path.GetFileName(Path)}: {CaseCount} cases, {Channels} channel(s), " +
        (EqualLength ? $"length {MaxLength}" : $"lengths {MinLength}–{MaxLength}") +
        $", {ClassLabels.Count} class labels" + (HasMissingValues ? ", with missing values" : "");
}
