using System.Buffers.Binary;
using System.IO.Compression;
using MlNetLstm.IO;

namespace MlNetLstm.TimeSeries;

/// <summary>
/// Opens a <c>.ts</c> file as a byte stream: plain, or gzip-compressed when it starts with the gzip
/// magic bytes 1F 8B (whatever its extension). Damaged gzip data becomes an
/// <see cref="InvalidDataException"/> naming the file.
/// </summary>
internal static class TsFileStream
{
    private const int BufferSize = 1 << 16;

    public static Stream Open(string path)
    {
        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, BufferSize);
        try
        {
            if (!StartsWithGzipMagic(file))
                return file;
            return new CheckedGzipStream(path, file);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private static bool StartsWithGzipMagic(FileStream file)
    {
        Span<byte> start = stackalloc byte[2];
        int read = file.ReadAtLeast(start, 2, throwOnEndOfStream: false);
        file.Position = 0;
        return read == 2 && start[0] == 0x1f && start[1] == 0x8b;
    }

    /// <summary>
    /// A <see cref="GZipStream"/> that also notices truncation: .NET's decompressor just ends early when
    /// the data stops before the gzip trailer, so at the end the decompressed size is compared with the
    /// size the trailer records (ISIZE, the last four bytes, modulo 2^32). That trailer belongs to the last
    /// gzip member only, so a file of several concatenated members is refused as well.
    /// </summary>
    private sealed class CheckedGzipStream : ForwardReadStream
    {
        private const int MinimumGzipLength = 18; // 10-byte header, empty deflate data, 8-byte trailer
        private readonly string path;
        private readonly GZipStream gzip;
        private readonly uint recordedLength;
        private long decompressedLength;

        public CheckedGzipStream(string path, FileStream file)
        {
            this.path = path;
            if (file.Length < MinimumGzipLength)
                throw Damaged($"it is {file.Length} bytes long, too short for gzip data");
            Span<byte> trailer = stackalloc byte[4];
            file.Position = file.Length - 4;
            file.ReadExactly(trailer);
            file.Position = 0;
            recordedLength = BinaryPrimitives.ReadUInt32LittleEndian(trailer);
            gzip = new GZipStream(file, CompressionMode.Decompress);
        }

        public override int Read(Span<byte> buffer)
        {
            int read;
            try
            {
                read = gzip.Read(buffer);
            }
            catch (InvalidDataException e)
            {
                throw Damaged($"its gzip data is damaged ({e.Message})");
            }
            decompressedLength += read;
            if (read == 0 && buffer.Length > 0 && (uint)decompressedLength != recordedLength)
                throw Damaged(
                    $"its gzip data ends after {decompressedLength} decompressed bytes but its trailer records {recordedLength} " +
                    "(the file is truncated, or is several concatenated gzip members)");
            return read;
        }

        private InvalidDataException Damaged(string why) => new($"'{path}' is not a readable .ts file: {why}.");

        protected override long BytesRead => decompressedLength;

        protected override void Dispose(bool disposing)
        {
            if (disposing)
                gzip.Dispose();
            base.Dispose(disposing);
        }
    }
}
