using System.Security.Cryptography;
using MlNetLstm.IO;

namespace MlNetLstm.Persistence;

/// <summary>
/// A model entry read front to back: hashes every byte it passes on and refuses to read past a limit
/// that the reader moves forward as the header tells it what comes next. So a damaged or crafted entry
/// is refused after reading what its header promises, however much more it would inflate to.
/// </summary>
internal sealed class EntryStream : ForwardReadStream
{
    private readonly Stream inner;
    private readonly IncrementalHash hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private long consumed;
    private long limit;
    private string section = "";

    public EntryStream(Stream inner) => this.inner = inner;

    /// <summary>Allows reading up to <paramref name="bytes"/> more bytes, described as <paramref name="what"/> in errors.</summary>
    public void Expect(long bytes, string what)
    {
        limit = consumed + bytes;
        section = what;
    }

    /// <summary>Bytes the current section still has to deliver.</summary>
    public long RemainingInSection => limit - consumed;

    /// <summary>The SHA-256 of everything read so far.</summary>
    public byte[] HashSoFar() => hash.GetCurrentHash();

    /// <summary>Reads bytes that are not hashed (the checksum itself).</summary>
    public void ReadUnhashed(Span<byte> buffer)
    {
        inner.ReadExactly(buffer);
        consumed += buffer.Length;
    }

    /// <summary>True when the underlying entry has no byte left.</summary>
    public bool AtEnd() => inner.Read(stackalloc byte[1]) == 0;

    public override int Read(Span<byte> buffer)
    {
        if (buffer.Length > limit - consumed)
            throw LstmModelFormat.Corrupt($"its {section} is longer than the entry's header or length allow");
        int read = inner.Read(buffer);
        hash.AppendData(buffer[..read]);
        consumed += read;
        return read;
    }

    protected override long BytesRead => consumed;

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            hash.Dispose();
        base.Dispose(disposing);
    }
}

/// <summary>Writes a model entry while hashing it, so the checksum needs no second copy of the weights.</summary>
internal sealed class HashingWriteStream(Stream inner) : ForwardWriteStream
{
    private readonly IncrementalHash hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

    public byte[] Hash() => hash.GetCurrentHash();

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        hash.AppendData(buffer);
        inner.Write(buffer);
    }

    public override void Flush() => inner.Flush();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            hash.Dispose();
        base.Dispose(disposing);
    }
}
