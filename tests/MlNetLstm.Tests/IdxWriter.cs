using System.Buffers.Binary;
using System.IO.Compression;

namespace MlNetLstm.Tests;

/// <summary>Writes small IDX files for tests, plain or gzip-compressed.</summary>
public static class IdxWriter
{
    public static void WriteImages(string path, byte[][] images, int rows, int columns, bool gzip = false)
    {
        var header = new byte[16];
        BinaryPrimitives.WriteInt32BigEndian(header, 0x00000803);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), images.Length);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(8), rows);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(12), columns);
        Write(path, header.Concat(images.SelectMany(i => i)).ToArray(), gzip);
    }

    public static void WriteLabels(string path, byte[] labels, bool gzip = false)
    {
        var header = new byte[8];
        BinaryPrimitives.WriteInt32BigEndian(header, 0x00000801);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), labels.Length);
        Write(path, header.Concat(labels).ToArray(), gzip);
    }

    private static void Write(string path, byte[] content, bool gzip)
    {
        using var file = File.Create(path);
        if (!gzip)
        {
            file.Write(content);
            return;
        }
        using var compressed = new GZipStream(file, CompressionLevel.Fastest);
        compressed.Write(content);
    }
}
