namespace MlNetLstm.TimeSeries;

/// <summary>
/// Reads text one line at a time as spans over its own buffer, so no string is made per line and a
/// line can be no longer than a set limit (an absurd line fails instead of exhausting memory).
/// Accepts \n and \r\n line ends.
/// </summary>
internal sealed class TsLineReader
{
    private const int InitialBufferLength = 1 << 16;
    private readonly string path;
    private readonly TextReader reader;
    private readonly int maxLineLength;
    private char[] buffer;
    private int start; // first unread character
    private int end;   // one past the last character read from the reader
    private bool endOfText;

    public TsLineReader(string path, TextReader reader, int maxLineLength)
    {
        this.path = path;
        this.reader = reader;
        this.maxLineLength = maxLineLength;
        buffer = new char[Math.Min(InitialBufferLength, maxLineLength + 1)];
    }

    /// <summary>1-based number of the line last returned; 0 before the first.</summary>
    public int LineNumber { get; private set; }

    /// <summary>
    /// The next line without its line end, valid until the next call; false at the end of the text.
    /// </summary>
    /// <exception cref="InvalidDataException">The line is longer than the limit.</exception>
    public bool TryReadLine(out ReadOnlySpan<char> line)
    {
        int searchFrom = start;
        while (true)
        {
            int newline = buffer.AsSpan(searchFrom, end - searchFrom).IndexOf('\n');
            if (newline >= 0)
            {
                int lineEnd = searchFrom + newline;
                line = WithoutCarriageReturn(buffer.AsSpan(start, lineEnd - start));
                start = lineEnd + 1;
                return Counted(line.Length);
            }
            if (end - start > maxLineLength + 1) // + 1: a \r may still be followed by its \n
                throw TooLong();
            if (endOfText)
            {
                if (start == end)
                {
                    line = default;
                    return false;
                }
                line = WithoutCarriageReturn(buffer.AsSpan(start, end - start));
                start = end;
                return Counted(line.Length);
            }
            searchFrom = end;
            MakeRoom(ref searchFrom);
            int read = reader.Read(buffer, end, buffer.Length - end);
            if (read == 0)
                endOfText = true;
            end += read;
        }
    }

    private bool Counted(int length)
    {
        if (length > maxLineLength)
            throw TooLong();
        LineNumber++;
        return true;
    }

    private static ReadOnlySpan<char> WithoutCarriageReturn(ReadOnlySpan<char> line) =>
        line.Length > 0 && line[^1] == '\r' ? line[..^1] : line;

    /// <summary>Moves the unread part to the front, and grows the buffer when that part fills it.</summary>
    private void MakeRoom(ref int searchFrom)
    {
        if (start > 0)
        {
            buffer.AsSpan(start, end - start).CopyTo(buffer);
            searchFrom -= start;
            end -= start;
            start = 0;
        }
        if (end == buffer.Length)
        {
            // Room for the longest allowed line, its \r and its \n.
            int length = (int)Math.Min((long)buffer.Length * 2, (long)maxLineLength + 2);
            Array.Resize(ref buffer, length);
        }
    }

    private InvalidDataException TooLong() =>
        TsFile.Invalid(path, LineNumber + 1, $"the line is longer than {maxLineLength} characters, the most a line may hold");
}
