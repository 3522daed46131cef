using System.Security.Cryptography;
using System.Text;
using MlNetLstm.Network;
using TorchSharp;
using MlNetLstm.Schema;
using static TorchSharp.torch;

namespace MlNetLstm.Persistence;

/// <summary>
/// The classifier's own binary record inside ML.NET's model zip: column names, network shape, label
/// values and every weight by name, followed by a SHA-256 of all of it so a damaged file is refused
/// instead of silently predicting garbage.
/// </summary>
/// <remarks>
/// Layout (little-endian): magic "MNLS", int32 format version, 4 column names, shape (6 fields), label
/// values (flag + <see cref="LabelKeyValues"/>), int32 tensor count, then per tensor: name, int32 rank,
/// int64 dims, float32 data; finally 32 bytes of SHA-256 over everything before them.
/// </remarks>
internal static class LstmModelFormat
{
    private const uint Magic = 0x534C4E4D; // "MNLS"
    private const int FormatVersion = 1;
    private const int HashLength = 32;
    private const int MaxDimension = 1 << 20;

    public static void Write(Stream stream, LstmModel model)
    {
        using var body = new MemoryStream();
        using (var writer = new BinaryWriter(body, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(Magic);
            writer.Write(FormatVersion);
            var c = model.Columns;
            foreach (var name in new[] { c.Label, c.Features, c.Score, c.PredictedLabel })
                writer.Write(name);
            var s = model.Shape;
            writer.Write(s.FeatureLength);
            writer.Write(s.SequenceLength);
            writer.Write(s.HiddenSize);
            writer.Write(s.NumberOfLayers);
            writer.Write(s.Bidirectional);
            writer.Write(s.ClassCount);
            writer.Write(model.LabelValues is not null);
            model.LabelValues?.Write(writer);

            using var scope = NewDisposeScope();
            var tensors = model.Network.state_dict();
            writer.Write(tensors.Count);
            foreach (var (name, tensor) in tensors)
            {
                writer.Write(name);
                writer.Write(tensor.shape.Length);
                foreach (long dim in tensor.shape)
                    writer.Write(dim);
                writer.Write(tensor.contiguous().bytes);
            }
        }
        var bytes = body.GetBuffer().AsSpan(0, (int)body.Length);
        stream.Write(bytes);
        stream.Write(SHA256.HashData(bytes));
    }

    /// <summary>Reads a model, refusing any damage with <see cref="InvalidDataException"/>.</summary>
    public static LstmModel Read(Stream stream)
    {
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        var all = copy.GetBuffer().AsSpan(0, (int)copy.Length);
        if (all.Length < HashLength + 8)
            throw Corrupt("it is too short");
        var body = all[..^HashLength];
        if (!SHA256.HashData(body).AsSpan().SequenceEqual(all[^HashLength..]))
            throw Corrupt("its checksum does not match");

        using var reader = new BinaryReader(new MemoryStream(body.ToArray()), Encoding.UTF8);
        try
        {
            return ReadBody(reader);
        }
        catch (EndOfStreamException)
        {
            throw Corrupt("it ends early");
        }
        catch (Exception e) when (e is FormatException or IOException)
        {
            // A checksum only catches accidents: a crafted entry can still hold impossible lengths.
            throw Corrupt($"it holds malformed data ({e.Message})");
        }
    }

    private static LstmModel ReadBody(BinaryReader reader)
    {
        if (reader.ReadUInt32() != Magic)
            throw Corrupt("it does not start with the expected marker");
        int version = reader.ReadInt32();
        if (version != FormatVersion)
            throw new InvalidDataException(
                $"The LSTM classifier in this model file has format version {version}; this MlNetLstm reads version {FormatVersion}. Use a matching MlNetLstm version.");

        var columns = new ColumnNames(reader.ReadString(), reader.ReadString(), reader.ReadString(), reader.ReadString());
        var shape = new NetworkShape(
            FeatureLength: reader.ReadInt32(), SequenceLength: reader.ReadInt32(), HiddenSize: reader.ReadInt32(),
            NumberOfLayers: reader.ReadInt32(), Bidirectional: reader.ReadBoolean(), ClassCount: reader.ReadInt32());
        if (shape.FeatureLength <= 0 || shape.SequenceLength <= 0 || shape.FeatureLength % shape.SequenceLength != 0
            || shape.HiddenSize is <= 0 or > MaxDimension || shape.NumberOfLayers is <= 0 or > 1024 || shape.ClassCount < 2)
            throw Corrupt($"its network shape {shape} is not valid");
        // Every count is checked against the bytes left before anything that large is allocated.
        long weightBytes = shape.WeightCount * sizeof(float);
        if (weightBytes > Remaining(reader))
            throw Corrupt($"its network shape {shape} needs {weightBytes} bytes of weights, more than the file holds");
        var labelValues = reader.ReadBoolean() ? LabelKeyValues.Read(reader, shape.ClassCount, Remaining(reader)) : null;

        TorchRuntime.EnsureConfigured();
        var network = new LstmClassifierNetwork(shape);
        try
        {
            LoadWeights(reader, network);
            if (Remaining(reader) != 0)
                throw Corrupt($"it has {Remaining(reader)} bytes after the weights");
            network.eval();
            return new LstmModel(columns, shape, labelValues, network);
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    private static void LoadWeights(BinaryReader reader, LstmClassifierNetwork network)
    {
        var expected = network.state_dict();
        int count = reader.ReadInt32();
        if (count != expected.Count)
            throw Corrupt($"it holds {count} weight tensors where the network has {expected.Count}");
        using var noGrad = no_grad();
        var seen = new HashSet<string>();
        for (int i = 0; i < count; i++)
        {
            string name = reader.ReadString();
            if (!expected.TryGetValue(name, out var target))
                throw Corrupt($"it holds an unknown weight tensor '{name}'");
            if (!seen.Add(name))
                throw Corrupt($"it holds weight tensor '{name}' twice");
            int rank = reader.ReadInt32();
            var dims = new long[Math.Clamp(rank, 0, 8)];
            for (int d = 0; d < dims.Length; d++)
                dims[d] = reader.ReadInt64();
            if (rank != target.shape.Length || !dims.AsSpan().SequenceEqual(target.shape))
                throw Corrupt($"weight tensor '{name}' has shape [{string.Join(", ", dims)}] where [{string.Join(", ", target.shape)}] was expected");
            var storage = target.bytes;
            if (reader.Read(storage) != storage.Length)
                throw new EndOfStreamException();
        }
    }

    private static long Remaining(BinaryReader reader) => reader.BaseStream.Length - reader.BaseStream.Position;

    private static InvalidDataException Corrupt(string why) =>
        new($"The LSTM classifier's weights in the model file are damaged: {why}. The file cannot be loaded.");
}
