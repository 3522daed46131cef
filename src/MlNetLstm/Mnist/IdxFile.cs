using System.Buffers.Binary;
using System.IO.Compression;

namespace MlNetLstm.Mnist;

/// <summary>
/// One IDX file (the MNIST distribution format): a big-endian header — magic 0x00000803 for images
/// (count, rows, cols) or 0x00000801 for labels (count) — then one unsigned byte per value.
/// Plain and gzip-compressed (.gz) files are both read.
/// </summary>
internal sealed class IdxFile
{
    public const int ImagesMagic = 0x00000803;
    public const int LabelsMagic = 0x00000801;

    public string Path { get; }
    public int Count { get; }
    public int Rows { get; }
    public int Columns { get; }
    public int HeaderLength { get; }

    /// <summary>Values per item: rows × columns for images, 1 for labels.</summary>
    public int ItemLength => Rows * Columns;

    private IdxFile(string path, int count, int rows, int columns, int headerLength)
    {
        Path = path;
        Count = count;
        Rows = rows;
        Columns = columns;
        HeaderLength = headerLength;
    }

    /// <summary>Reads and checks the header, and that the file holds exactly the items it announces.</summary>
    public static IdxFile Open(string path, int expectedMagic)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"MNIST IDX file '{path}' does not exist.", path);
        string kind = expectedMagic == ImagesMagic ? "images" : "labels";
        using var stream = OpenData(path);
        Span<byte> header = stackalloc byte[16];
        int headerLength = expectedMagic == ImagesMagic ? 16 : 8;
        int read = ReadFully(path, stream, header[..4]);
        int magic = BinaryPrimitives.ReadInt32BigEndian(header);
        if (read < 4 || magic != expectedMagic)
            throw Invalid(path, $"its magic number is 0x{magic:x8}, expected 0x{expectedMagic:x8} for IDX {kind}");
        if (ReadFully(path, stream, header[4..headerLength]) < headerLength - 4)
            throw Invalid(path, $"it is too short to hold an IDX {kind} header");
        int count = BinaryPrimitives.ReadInt32BigEndian(header[4..]);
        int rows = 1, columns = 1;
        if (expectedMagic == ImagesMagic)
        {
            rows = BinaryPrimitives.ReadInt32BigEndian(header[8..]);
            columns = BinaryPrimitives.ReadInt32BigEndian(header[12..]);
            if (rows <= 0 || columns <= 0 || rows > 4096 || columns > 4096)
                throw Invalid(path, $"its image size {rows}×{columns} is not valid");
        }
        if (count < 0)
            throw Invalid(path, $"its item count {count} is negative");

        long expected = (long)count * rows * columns;
        long actual = CountRemaining(path, stream);
        if (actual < expected)
            throw Invalid(path, $"it announces {count} {kind} but ends after {actual / (rows * columns)}");
        if (actual > expected)
            throw Invalid(path, $"it has {actual - expected} bytes after the {count} {kind} it announces");
        return new IdxFile(path, count, rows, columns, headerLength);
    }

    /// <summary>A stream positioned at the first item.</summary>
    public Stream OpenItems()
    {
        var stream = OpenData(Path);
        Span<byte> header = stackalloc byte[16];
        ReadFully(Path, stream, header[..HeaderLength]);
        return stream;
    }

    /// <summary>Fills <paramref name="buffer"/> completely, or throws naming the file.</summary>
    public void ReadItem(Stream stream, Span<byte> buffer)
    {
        if (ReadFully(Path, stream, buffer) < buffer.Length)
            throw Invalid(Path, "it ended while being read (was it changed after loading?)");
    }

    private static Stream OpenData(string path)
    {
        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        if (!IsGzip(file))
            return file;
        return new BufferedStream(new GZipStream(file, CompressionMode.Decompress), 1 << 16);
    }

    private static bool IsGzip(FileStream file)
    {
        Span<byte> start = stackalloc byte[2];
        int read = file.Read(start);
        read += read == 1 ? file.Read(start[1..]) : 0;
        file.Position = 0;
        return read == 2 && start[0] == 0x1f && start[1] == 0x8b;
    }

    private static long CountRemaining(string path, Stream stream)
    {
        var buffer = new byte[1 << 16];
        long total = 0;
        int read;
        while ((read = ReadFully(path, stream, buffer)) > 0)
            total += read;
        return total;
    }

    /// <summary>Reads until the buffer is full or the data ends; damaged gzip data names the file.</summary>
    private static int ReadFully(string path, Stream stream, Span<byte> buffer)
    {
        int total = 0;
        try
        {
            int read;
            while (total < buffer.Length && (read = stream.Read(buffer[total..])) > 0)
                total += read;
        }
        catch (InvalidDataException e)
        {
            throw Invalid(path, $"its gzip data is damaged ({e.Message})");
        }
        return total;
    }

    internal static InvalidDataException Invalid(string path, string why) =>
        new($"'{path}' is not a valid MNIST IDX file: {why}.");
}
