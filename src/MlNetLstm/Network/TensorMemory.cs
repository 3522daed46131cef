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
