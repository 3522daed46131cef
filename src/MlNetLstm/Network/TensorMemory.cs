using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace MlNetLstm.Network;

/// <summary>
/// Direct views of a contiguous CPU tensor's storage, so data moves in and out with one block copy
/// (TorchSharp's element accessor copies value by value).
/// </summary>
internal static class TensorMemory
{
    public static Span<float> FloatSpan(this Tensor tensor) => MemoryMarshal.Cast<byte, float>(tensor.bytes);

    public static Span<long> LongSpan(this Tensor tensor) => MemoryMarshal.Cast<byte, long>(tensor.bytes);
}

/// <summary>A float tensor's data to and from a stream, in pieces: a span over tensor memory is limited to 2 GiB.</summary>
internal static class TensorBytes
{
    private const long PieceElements = 1 << 28; // 1 GiB of floats

    public static void Write(Tensor tensor, Stream stream)
    {
        using var scope = NewDisposeScope();
        var flat = tensor.contiguous().view(-1);
        for (long start = 0; start < flat.shape[0]; start += PieceElements)
            stream.Write(flat.narrow(0, start, Math.Min(PieceElements, flat.shape[0] - start)).bytes);
    }

    /// <summary>Fills a contiguous tensor from the stream.</summary>
    public static void Read(Stream stream, Tensor tensor)
    {
        using var scope = NewDisposeScope();
        var flat = tensor.view(-1);
        for (long start = 0; start < flat.shape[0]; start += PieceElements)
            stream.ReadExactly(flat.narrow(0, start, Math.Min(PieceElements, flat.shape[0] - start)).bytes);
    }

    public static void Skip(Stream stream, long bytes)
    {
        var buffer = new byte[(int)Math.Min(bytes, 1 << 16)];
        for (long left = bytes; left > 0; left -= buffer.Length)
            stream.ReadExactly(buffer.AsSpan(0, (int)Math.Min(buffer.Length, left)));
    }
}
