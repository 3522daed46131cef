using System.Globalization;
using System.Text;

namespace MlNetLstm.TimeSeries;

/// <summary>
/// A UCR/UEA <c>.ts</c> classification file, read and checked completely: one label and one step-major
/// feature array per case. The format (as aeon and sktime read it): <c>#</c>/<c>%</c> comment lines,
/// <c>@keyword</c> header lines in any order and letter case, <c>@data</c>, then one case per line —
/// channels separated by <c>:</c>, values by <c>,</c>, the class label after the last <c>:</c>.
/// </summary>
internal sealed class TsFile
{
    /// <summary>
    /// The longest line read, in characters. Real archive lines reach a few million characters
    /// (thousands of steps × dozens of channels); this bounds the memory one damaged line can take.
    /// </summary>
    public const int DefaultMaxLineLength = 1 << 26;

    private TsFile(TsFileInfo info, int[] labelIndices, float[][] features)
    {
        Info = info;
        LabelIndices = labelIndices;
        Features = features;
    }

    public TsFileInfo Info { get; }

    /// <summary>Per case, its index in <see cref="TsFileInfo.ClassLabels"/>; -1 in a file without labels.</summary>
    public int[] LabelIndices { get; }

    /// <summary>Per case, its values step-major: channel c of step t at <c>t * Channels + c</c>.</summary>
    public float[][] Features { get; }

    /// <summary>Reads and checks the whole file (plain or gzip-compressed).</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not valid; the message names the file and line.</exception>
    /// <exception cref="NotSupportedException">A regression file, or one with time stamps.</exception>
    public static TsFile Read(string path, int maxLineLength = DefaultMaxLineLength)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"UCR/UEA .ts file '{path}' does not exist.", path);
        using var stream = TsFileStream.Open(path);
        using var text = new StreamReader(stream, Encoding.UTF8, detectEncodingFromByteOrderMarks: true, bufferSize: 1 << 16);
        var lines = new TsLineReader(path, text, maxLineLength);
        var header = Header.Read(path, lines);
        return new CaseReader(path, header).ReadAll(lines);
    }

    /// <summary>The error for a problem at a 1-based line of a file.</summary>
    internal static InvalidDataException Invalid(string path, int line, string why) =>
        new($"'{path}' line {line}: {why}.");

    private static bool IsBlankOrComment(ReadOnlySpan<char> trimmedLine) =>
        trimmedLine.IsEmpty || trimmedLine[0] == '#' || trimmedLine[0] == '%';

    /// <summary>A piece of the file quoted in a message, cut short so a damaged line cannot flood it.</summary>
    private static string Quote(ReadOnlySpan<char> text) =>
        text.Length <= 40 ? $"'{text}'" : $"'{text[..40]}…'";

    /// <summary>The header lines up to and including <c>@data</c>. A keyword given twice keeps its last value, as aeon does.</summary>
    private sealed class Header
    {
        private const string Keywords =
            "@problemName, @timeStamps, @missing, @univariate, @dimensions, @equalLength, @seriesLength, @classLabel, @targetLabel or @data";

        public string? ProblemName { get; private set; }
        public bool? Univariate { get; private set; }
        public int UnivariateLine { get; private set; }
        public int? Dimensions { get; private set; }
        public int DimensionsLine { get; private set; }
        public bool? EqualLength { get; private set; }
        public int EqualLengthLine { get; private set; }
        public int? SeriesLength { get; private set; }
        public int SeriesLengthLine { get; private set; }
        /// <summary>Null without a <c>@classLabel</c> line; empty for <c>@classLabel false</c>.</summary>
        public string[]? ClassLabels { get; private set; }
        public int ClassLabelLine { get; private set; }
        public int DataLine { get; private set; }

        public static Header Read(string path, TsLineReader lines)
        {
            var header = new Header();
            while (lines.TryReadLine(out var rawLine))
            {
                var line = rawLine.Trim();
                if (IsBlankOrComment(line))
                    continue;
                if (line[0] != '@')
                    throw Invalid(path, lines.LineNumber,
                        $"{Quote(line)} is neither a comment (# or %) nor a header line; expected header lines such as '@classLabel true 1 2', then '@data' before the cases");
                if (header.ReadLine(path, lines.LineNumber, line))
                {
                    header.CheckComplete(path);
                    return header;
                }
            }
            throw lines.LineNumber == 0
                ? Invalid(path, 1, "the file is empty; expected header lines, '@data' and then one case per line")
                : Invalid(path, lines.LineNumber, "the file ends without an '@data' line; expected header lines, '@data' and then one case per line");
        }

        /// <summary>Takes in one header line; true for <c>@data</c>.</summary>
        private bool ReadLine(string path, int lineNumber, ReadOnlySpan<char> line)
        {
            int space = line.IndexOfAny(' ', '\t');
            var keyword = space < 0 ? line : line[..space];
            var rest = space < 0 ? ReadOnlySpan<char>.Empty : line[(space + 1)..].Trim();
            string[] values = rest.IsEmpty ? [] : rest.ToString().Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            switch (keyword.ToString().ToLowerInvariant())
            {
                case "@problemname":
                    if (rest.IsEmpty)
                        throw Invalid(path, lineNumber, "@problemName has no name; expected '@problemName <name>'");
                    ProblemName = rest.ToString();
                    break;
                case "@timestamps":
                    if (Flag(path, lineNumber, keyword, values))
                        throw new NotSupportedException(
                            $"'{path}' line {lineNumber}: files with time stamps (@timeStamps true) are not read; " +
                            "this loader reads classification files whose cases are plain values (@timeStamps false).");
                    break;
                case "@missing":
                    Flag(path, lineNumber, keyword, values); // '?' and NaN are read either way
                    break;
                case "@univariate":
                    Univariate = Flag(path, lineNumber, keyword, values);
                    UnivariateLine = lineNumber;
                    break;
                case "@dimensions":
                    Dimensions = PositiveNumber(path, lineNumber, keyword, values);
                    DimensionsLine = lineNumber;
                    break;
                case "@equallength":
                    EqualLength = Flag(path, lineNumber, keyword, values);
                    EqualLengthLine = lineNumber;
                    break;
                case "@serieslength":
                    SeriesLength = PositiveNumber(path, lineNumber, keyword, values);
                    SeriesLengthLine = lineNumber;
                    break;
                case "@classlabel":
                    ClassLabels = ReadClassLabels(path, lineNumber, values);
                    ClassLabelLine = lineNumber;
                    break;
                case "@targetlabel":
                    if (Flag(path, lineNumber, keyword, values))
                        throw new NotSupportedException(
                            $"'{path}' line {lineNumber}: regression files (@targetLabel true) are not read; " +
                            "this loader reads classification files ('@classLabel true <labels…>') without time stamps.");
                    break;
                case "@data":
                    if (!rest.IsEmpty)
                        throw Invalid(path, lineNumber, $"'@data' is followed by {Quote(rest)}; expected the cases on the lines after it");
                    DataLine = lineNumber;
                    return true;
                default:
                    throw Invalid(path, lineNumber, $"unknown header keyword {Quote(keyword)}; expected {Keywords}");
            }
            return false;
        }

        private void CheckComplete(string path)
        {
            if (ClassLabels is null)
                throw Invalid(path, DataLine,
                    "no '@classLabel' line before '@data'; expected '@classLabel true <labels…>' (or '@classLabel false' for a file without labels)");
            if (Univariate == true && Dimensions is int dimensions && dimensions != 1)
                throw Invalid(path, DimensionsLine, $"'@dimensions {dimensions}' contradicts '@univariate true' on line {UnivariateLine}");
        }

        private static string[] ReadClassLabels(string path, int lineNumber, string[] values)
        {
            bool labelled = Flag(path, lineNumber, "@classLabel", values.Length == 0 ? values : values[..1]);
            var labels = values[1..];
            if (labelled && labels.Length == 0)
                throw Invalid(path, lineNumber, "'@classLabel true' declares no labels; expected '@classLabel true <label> <label>…'");
            if (!labelled && labels.Length > 0)
                throw Invalid(path, lineNumber, "'@classLabel false' is followed by labels; expected labels only after '@classLabel true'");
            var repeated = labels.GroupBy(l => l, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
            if (repeated is not null)
                throw Invalid(path, lineNumber, $"@classLabel declares label {Quote(repeated.Key)} more than once");
            return labels;
        }

        private static bool Flag(string path, int lineNumber, ReadOnlySpan<char> keyword, string[] values)
        {
            if (values.Length == 1 && values[0].Equals("true", StringComparison.OrdinalIgnoreCase))
                return true;
            if (values.Length == 1 && values[0].Equals("false", StringComparison.OrdinalIgnoreCase))
                return false;
            throw Invalid(path, lineNumber, $"{keyword} takes 'true' or 'false', found {Quote(string.Join(' ', values))}");
        }

        private static int PositiveNumber(string path, int lineNumber, ReadOnlySpan<char> keyword, string[] values)
        {
            if (values.Length == 1 && int.TryParse(values[0], NumberStyles.None, CultureInfo.InvariantCulture, out int number) && number > 0)
                return number;
            throw Invalid(path, lineNumber, $"{keyword} takes one whole number of at least 1, found {Quote(string.Join(' ', values))}");
        }
    }

    /// <summary>Reads the cases after <c>@data</c>, checking each against the header and the first case.</summary>
    private sealed class CaseReader
    {
        private readonly string path;
        private readonly Header header;
        private readonly bool labelled;
        private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> labelIndex;
        private readonly List<int> labelIndices = [];
        private readonly List<float[]> features = [];
        private float[] channelMajor = new float[1024]; // one case's values, channel after channel
        private int channels;      // 0 until the header or the first case fixes it
        private string channelsSource = "";
        private int length;        // 0 while lengths may differ, or until the first case fixes it
        private string lengthSource = "";
        private int minLength = int.MaxValue, maxLength;
        private bool hasMissingValues;

        public CaseReader(string path, Header header)
        {
            this.path = path;
            this.header = header;
            var labels = header.ClassLabels!;
            labelled = labels.Length > 0;
            labelIndex = labels.Select((label, index) => (label, index))
                .ToDictionary(p => p.label, p => p.index, StringComparer.Ordinal)
                .GetAlternateLookup<ReadOnlySpan<char>>();
            if (header.Dimensions is int dimensions)
                (channels, channelsSource) = (dimensions, $"'@dimensions' on line {header.DimensionsLine}");
            else if (header.Univariate == true)
                (channels, channelsSource) = (1, $"'@univariate true' on line {header.UnivariateLine}");
            // @seriesLength binds unless the file says its lengths differ.
            if (header.EqualLength != false && header.SeriesLength is int seriesLength)
                (length, lengthSource) = (seriesLength, $"'@seriesLength' on line {header.SeriesLengthLine}");
        }

        public TsFile ReadAll(TsLineReader lines)
        {
            while (lines.TryReadLine(out var rawLine))
            {
                var line = rawLine.Trim();
                if (IsBlankOrComment(line))
                    continue;
                if (line[0] == '@')
                    throw Invalid(path, lines.LineNumber, $"header line {Quote(line)} after '@data' on line {header.DataLine}; expected one case per line");
                ReadCase(lines.LineNumber, line);
            }
            if (features.Count == 0)
                throw Invalid(path, lines.LineNumber,
                    $"the file has no cases after '@data' on line {header.DataLine}; expected one case per line");
            var info = new TsFileInfo(path, header.ProblemName, channels, minLength, maxLength,
                Array.AsReadOnly(header.ClassLabels!), features.Count, hasMissingValues);
            return new TsFile(info, labelIndices.ToArray(), features.ToArray());
        }

        private void ReadCase(int lineNumber, ReadOnlySpan<char> line)
        {
            var values = line;
            int label = -1;
            if (labelled)
            {
                int colon = line.LastIndexOf(':');
                var labelText = colon < 0 ? ReadOnlySpan<char>.Empty : line[(colon + 1)..].Trim();
                if (labelText.IsEmpty)
                    throw Invalid(path, lineNumber, "the case has no class label; expected the channels' values, then ':' and a label declared by @classLabel");
                if (!labelIndex.TryGetValue(labelText, out label))
                    throw Invalid(path, lineNumber,
                        $"class label {Quote(labelText)} is not declared by '@classLabel' on line {header.ClassLabelLine} ({DeclaredLabels()})");
                values = line[..colon];
            }

            int caseChannels = 0, caseLength = 0, count = 0;
            foreach (var channelRange in values.Split(':'))
            {
                int channelLength = ReadChannel(lineNumber, values[channelRange], caseChannels, ref count);
                if (caseChannels == 0)
                    caseLength = channelLength;
                else if (channelLength != caseLength)
                    throw Invalid(path, lineNumber,
                        $"channel {caseChannels + 1} has {channelLength} values but channel 1 has {caseLength}; all channels of a case must have the same length");
                caseChannels++;
            }

            CheckShape(lineNumber, caseChannels, caseLength);
            labelIndices.Add(label);
            features.Add(StepMajor(caseChannels, caseLength));
            minLength = Math.Min(minLength, caseLength);
            maxLength = Math.Max(maxLength, caseLength);
        }

        /// <summary>Appends one channel's values to <see cref="channelMajor"/>; returns how many it has.</summary>
        private int ReadChannel(int lineNumber, ReadOnlySpan<char> channel, int channelIndex, ref int count)
        {
            if (channel.Trim().IsEmpty)
                throw Invalid(path, lineNumber, $"channel {channelIndex + 1} is empty; expected comma-separated values");
            int channelLength = 0;
            foreach (var valueRange in channel.Split(','))
            {
                var text = channel[valueRange].Trim();
                channelLength++;
                if (text.IsEmpty)
                    throw Invalid(path, lineNumber,
                        $"value {channelLength} of channel {channelIndex + 1} is empty; expected a number, '?' or NaN");
                float value;
                if (text is "?")
                    value = float.NaN;
                else if (!float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value))
                    throw Invalid(path, lineNumber,
                        $"value {channelLength} of channel {channelIndex + 1}, {Quote(text)}, is not a number; expected a number such as -1.5e3, '?' or NaN");
                else if (float.IsInfinity(value))
                    throw Invalid(path, lineNumber,
                        $"value {channelLength} of channel {channelIndex + 1}, {Quote(text)}, is not a finite number; expected a number between ±3.4e38, '?' or NaN");
                hasMissingValues |= float.IsNaN(value);
                if (count == channelMajor.Length)
                    Array.Resize(ref channelMajor, channelMajor.Length * 2);
                channelMajor[count++] = value;
            }
            return channelLength;
        }

        private void CheckShape(int lineNumber, int caseChannels, int caseLength)
        {
            if (channels == 0)
                (channels, channelsSource) = (caseChannels, $"the first case (line {lineNumber})");
            else if (caseChannels != channels)
                throw Invalid(path, lineNumber, $"the case has {caseChannels} channel(s); expected {channels}, from {channelsSource}");

            if (length == 0 && header.EqualLength == true)
                (length, lengthSource) = (caseLength, $"the first case (line {lineNumber}) and '@equalLength true' on line {header.EqualLengthLine}");
            else if (length != 0 && caseLength != length)
                throw Invalid(path, lineNumber, $"the case has {caseLength} steps; expected {length}, from {lengthSource}");
        }

        private float[] StepMajor(int caseChannels, int caseLength)
        {
            var stepMajor = new float[caseChannels * caseLength];
            for (int c = 0; c < caseChannels; c++)
                for (int t = 0; t < caseLength; t++)
                    stepMajor[t * caseChannels + c] = channelMajor[c * caseLength + t];
            return stepMajor;
        }

        private string DeclaredLabels()
        {
            var labels = header.ClassLabels!;
            var shown = string.Join(' ', labels.Take(10).Select(l => Quote(l)));
            return labels.Length > 10 ? $"{shown} … {labels.Length} labels" : shown;
        }
    }
}
