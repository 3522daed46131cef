using System.Text;
using MlNetLstm.Network;
using MlNetLstm.Schema;
using MlNetLstm.Sequences;
using static TorchSharp.torch;

namespace MlNetLstm.Persistence;

/// <summary>
/// The classifier's own binary entry inside ML.NET's model zip, and every version of it this code reads.
/// Layout (little-endian): magic "MNLS", int32 version, the header of that version, label values (flag +
/// <see cref="LabelKeyValues"/>), int32 tensor count, then per tensor: name, int32 rank, int64 dims,
/// float32 data; finally a SHA-256 of everything before it, so a damaged file is refused instead of
/// silently predicting garbage.
/// </summary>
/// <remarks>
/// Reading is streamed and bounded: the header says exactly how many bytes the weights take, which is
/// checked against the entry's declared length before anything large is allocated, and nothing past
/// what the header promises is ever read. Weights go straight into the network's tensors.
/// </remarks>
internal static class LstmModelFormat
{
    // Version history (ModelZip puts 0x00010000 + the version into ML.NET's model header):
    // 1: MlNetLstm 0.1.0. Header: 4 column names; feature length, sequence length, hidden size, layers,
    //    bidirectional, classes.
    // 2: MlNetLstm 0.2.0. Header: 4 column names; input size, hidden size, layers, bidirectional,
    //    classes; feature layout, feature length at Fit (0 = variable), per-channel normalisation,
    //    whether trailing all-NaN steps are padding; training summary.
    // 3: MlNetLstm 0.2.0 from the fused kernel on. Header as version 2, then the scoring kernel (byte:
    //    0 libtorch, 1 fused).
    public const int CurrentVersion = 3;

    /// <summary>The oldest version of this format whose readers can read what <see cref="Write"/> writes.</summary>
    public const int ReadableByVersion = 3;

    /// <summary>The oldest version this code reads.</summary>
    public const int OldestReadableVersion = 1;

    private const uint Magic = 0x534C4E4D; // "MNLS"
    private const int HashLength = 32;
    /// <summary>A megabyte for column names, shape and summary, and the statistics' 8 bytes per channel.</summary>
    private const long HeaderLimit = (1L << 20) + 8L * NetworkShape.MaxDimension;
    private const int ColumnNamesLimit = 1 << 19;
    private const int MaxRank = 8;

    /// <summary>Label values are text of any length: allow 64 bytes per class on average beyond a megabyte.</summary>
    private static long LabelBudget(int classCount) => (1L << 20) + 64L * classCount;

    /// <summary>Writes the current version. Refuses, before writing anything, a model it could not read back.</summary>
    public static void Write(Stream stream, LstmModel model)
    {
        var tensors = CheckWritable(model);
        using var hashing = new HashingWriteStream(stream);
        using (var writer = new BinaryWriter(hashing, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(Magic);
            writer.Write(CurrentVersion);
            var c = model.Columns;
            foreach (var name in new[] { c.Label, c.Features, c.Score, c.PredictedLabel })
                writer.Write(name);
            var s = model.Shape;
            writer.Write(s.InputSize);
            writer.Write(s.HiddenSize);
            writer.Write(s.NumberOfLayers);
            writer.Write(s.Bidirectional);
            writer.Write(s.ClassCount);
            var input = model.Input;
            writer.Write((byte)input.Layout);
            writer.Write(input.FeatureLength ?? 0);
            writer.Write(input.Normalization is not null);
            if (input.Normalization is ChannelStatistics statistics)
            {
                foreach (float value in statistics.Mean.Concat(statistics.Deviation))
                    writer.Write(value);
            }
            writer.Write(input.TrailingNaNIsPadding);
            WriteSummary(writer, model.Summary);
            writer.Write((byte)model.Scoring);
            writer.Write(model.LabelValues is not null);
            model.LabelValues?.Write(writer);

            writer.Write(tensors.Count);
            foreach (var (weight, tensor) in tensors)
            {
                writer.Write(weight.Name);
                writer.Write(weight.Dimensions.Length);
                foreach (long dimension in weight.Dimensions)
                    writer.Write(dimension);
                writer.Flush();
                TensorBytes.Write(tensor, hashing);
            }
        }
        stream.Write(hashing.Hash());
    }

    /// <summary>The network's tensors in <see cref="NetworkShape.Weights"/> order, once everything is known to be intact.</summary>
    private static List<(WeightTensor Weight, Tensor Tensor)> CheckWritable(LstmModel model)
    {
        if (!model.Shape.IsPlausible)
            throw new InvalidOperationException(
                $"Cannot save the LSTM classifier: its network shape {model.Shape} exceeds what a model file holds (sizes up to {NetworkShape.MaxDimension}, up to {NetworkShape.MaxLayers} layers).");
        var c = model.Columns;
        if (new[] { c.Label, c.Features, c.Score, c.PredictedLabel }.Sum(Encoding.UTF8.GetByteCount) > ColumnNamesLimit)
            throw new InvalidOperationException($"Cannot save the LSTM classifier: its column names take more than {ColumnNamesLimit} bytes.");
        if (model.LabelValues is LabelKeyValues labels && labels.Count != model.Shape.ClassCount)
            throw new InvalidOperationException(
                $"Cannot save the LSTM classifier: it has {labels.Count} label values for {model.Shape.ClassCount} classes.");
        if (model.LabelValues is LabelKeyValues values && 1 + values.EncodedLength > LabelBudget(model.Shape.ClassCount))
            throw new InvalidOperationException(
                $"Cannot save the LSTM classifier: its label values take {1 + values.EncodedLength} bytes, more than the {LabelBudget(model.Shape.ClassCount)} a model file allows for {model.Shape.ClassCount} classes.");
        var present = model.Network.state_dict();
        var tensors = new List<(WeightTensor, Tensor)>();
        foreach (var weight in model.Shape.Weights)
        {
            if (!present.TryGetValue(weight.Name, out var tensor) || tensor.IsInvalid || !tensor.shape.SequenceEqual(weight.Dimensions))
                throw new InvalidOperationException(
                    $"Cannot save the LSTM classifier: its weight tensor {weight} is missing or was freed (was the transformer disposed, or a weight disposed by hand?).");
            tensors.Add((weight, tensor));
        }
        return tensors;
    }

    /// <summary>Reads a model of any readable version, refusing any damage with <see cref="InvalidDataException"/>.</summary>
    /// <param name="stream">The entry, positioned at its start.</param>
    /// <param name="declaredLength">The entry's length as its container declares it, when known.</param>
    public static LstmModel Read(Stream stream, long? declaredLength) => ReadEntry(stream, declaredLength, buildNetwork: true)!;

    /// <summary>Reads an entry completely, checking everything <see cref="Read"/> checks, without building a network.</summary>
    public static void Verify(Stream stream, long? declaredLength) => ReadEntry(stream, declaredLength, buildNetwork: false);

    private static LstmModel? ReadEntry(Stream stream, long? declaredLength, bool buildNetwork)
    {
        using var entry = new EntryStream(stream);
        using var reader = new BinaryReader(entry, Encoding.UTF8, leaveOpen: true);
        LstmClassifierNetwork? network = null;
        try
        {
            entry.Expect(HeaderLimit, "header");
            var (columns, input, shape, summary, scoring) = ReadHeader(reader);
            var weights = shape.Weights;
            long weightSection = sizeof(int) + weights.Sum(w => EncodedLength(w));
            long labelSection = LabelBudget(shape.ClassCount);
            if (declaredLength is long declared)
            {
                labelSection = declared - entry.Position - weightSection - HashLength;
                if (labelSection < 0)
                    throw Corrupt($"its network shape {shape} needs {weightSection} bytes of weights, more than the entry's {declared} bytes hold");
                if (labelSection > LabelBudget(shape.ClassCount))
                    throw Corrupt($"its entry is {declared} bytes long, {labelSection} more than its network shape {shape} and label values can use");
            }

            entry.Expect(labelSection, "label values");
            var labelValues = reader.ReadBoolean() ? LabelKeyValues.Read(reader, shape.ClassCount, entry.RemainingInSection) : null;
            if (declaredLength is not null && entry.RemainingInSection != 0)
                throw Corrupt($"it has {entry.RemainingInSection} bytes between its label values and its weights");

            entry.Expect(weightSection, "weights");
            if (buildNetwork)
            {
                network = new LstmClassifierNetwork(shape);
            }
            ReadWeights(reader, weights, network);

            var computed = entry.HashSoFar();
            var stored = new byte[HashLength];
            entry.Expect(HashLength, "checksum");
            entry.ReadUnhashed(stored);
            if (!computed.AsSpan().SequenceEqual(stored))
                throw Corrupt("its checksum does not match");
            if (!entry.AtEnd())
                throw Corrupt("it has data after its checksum");
            if (network is null)
                return null;
            network.eval();
            return new LstmModel(columns, input, shape, labelValues, network, summary) { Scoring = scoring };
        }
        catch (Exception e) when (e is not InvalidDataException)
        {
            network?.Dispose();
            throw e switch
            {
                EndOfStreamException => Corrupt("it ends early"),
                // A checksum only catches accidents: a crafted entry can still hold impossible values.
                FormatException or IOException or OverflowException or ArgumentException => Corrupt($"it holds malformed data ({e.Message})"),
                _ => e,
            };
        }
        catch
        {
            network?.Dispose();
            throw;
        }
    }

    private static (ColumnNames, SequenceShape, NetworkShape, LstmTrainingSummary?, ScoringKernel) ReadHeader(BinaryReader reader)
    {
        if (reader.ReadUInt32() != Magic)
            throw Corrupt("it does not start with the expected marker");
        int version = reader.ReadInt32();
        if (version > CurrentVersion)
            throw new InvalidDataException(
                $"The LSTM classifier in this model file has format version {version}; this MlNetLstm reads versions {OldestReadableVersion} to {CurrentVersion}. Use a newer MlNetLstm.");
        if (version < OldestReadableVersion)
            throw Corrupt($"its format version {version} is not one MlNetLstm ever wrote");

        var columns = new ColumnNames(reader.ReadString(), reader.ReadString(), reader.ReadString(), reader.ReadString());
        SequenceShape input;
        NetworkShape shape;
        LstmTrainingSummary? summary = null;
        if (version == 1)
        {
            int featureLength = reader.ReadInt32(), sequenceLength = reader.ReadInt32();
            if (featureLength <= 0 || sequenceLength <= 0 || featureLength % sequenceLength != 0)
                throw Corrupt($"its feature length {featureLength} is not a positive multiple of its sequence length {sequenceLength}");
            shape = new NetworkShape(featureLength / sequenceLength, reader.ReadInt32(), reader.ReadInt32(), reader.ReadBoolean(), reader.ReadInt32());
            input = new SequenceShape(shape.InputSize, FeatureLayout.StepMajor, featureLength, Normalization: null, TrailingNaNIsPadding: false);
        }
        else
        {
            shape = new NetworkShape(reader.ReadInt32(), reader.ReadInt32(), reader.ReadInt32(), reader.ReadBoolean(), reader.ReadInt32());
            if (!shape.IsPlausible)
                throw Corrupt($"its network shape {shape} is not valid");
            var layout = (FeatureLayout)reader.ReadByte();
            int featureLength = reader.ReadInt32();
            if (!Enum.IsDefined(layout) || featureLength < 0 || featureLength % shape.InputSize != 0)
                throw Corrupt($"its input layout {layout} or feature length {featureLength} is not valid");
            ChannelStatistics? normalization = null;
            if (reader.ReadBoolean())
            {
                var mean = ReadFloats(reader, shape.InputSize);
                var deviation = ReadFloats(reader, shape.InputSize);
                if (!mean.Concat(deviation).All(float.IsFinite) || deviation.Any(d => d <= 0))
                    throw Corrupt("its normalisation statistics are not finite positive deviations");
                normalization = new ChannelStatistics(mean, deviation);
            }
            input = new SequenceShape(shape.InputSize, layout, featureLength == 0 ? null : featureLength, normalization, reader.ReadBoolean());
            summary = ReadSummary(reader);
        }
        if (!shape.IsPlausible)
            throw Corrupt($"its network shape {shape} is not valid");
        var scoring = ScoringKernel.Libtorch;
        if (version >= 3)
        {
            // A kernel that cannot compute this shape (here or in this version) falls back to libtorch when scoring.
            scoring = (ScoringKernel)reader.ReadByte();
            if (!Enum.IsDefined(scoring))
                throw Corrupt($"its scoring kernel {(byte)scoring} is not one MlNetLstm knows");
        }
        return (columns, input, shape, summary, scoring);
    }

    private static void WriteSummary(BinaryWriter writer, LstmTrainingSummary? summary)
    {
        writer.Write(summary is not null);
        if (summary is null)
            return;
        writer.Write(summary.TrainingRows);
        writer.Write(summary.SkippedRows);
        writer.Write(summary.ValidationRows);
        writer.Write(summary.Batches);
        writer.Write(summary.Epochs);
        writer.Write(summary.KeptBatch);
        writer.Write(summary.KeptEpoch);
        writer.Write(summary.BestValidationLoss is not null);
        writer.Write(summary.BestValidationLoss ?? 0);
        writer.Write(summary.BestValidationAccuracy is not null);
        writer.Write(summary.BestValidationAccuracy ?? 0);
        writer.Write(summary.StoppedEarly);
        writer.Write(summary.FinalLearningRate);
    }

    private static LstmTrainingSummary? ReadSummary(BinaryReader reader)
    {
        if (!reader.ReadBoolean())
            return null;
        int trainingRows = reader.ReadInt32();
        long skipped = reader.ReadInt64();
        int validationRows = reader.ReadInt32();
        long batches = reader.ReadInt64();
        double epochs = reader.ReadDouble();
        long keptBatch = reader.ReadInt64();
        double keptEpoch = reader.ReadDouble();
        double? bestLoss = reader.ReadBoolean() ? reader.ReadDouble() : Skip(reader.ReadDouble());
        double? bestAccuracy = reader.ReadBoolean() ? reader.ReadDouble() : Skip(reader.ReadDouble());
        return new LstmTrainingSummary(trainingRows, skipped, validationRows, batches, epochs, keptBatch, keptEpoch,
            bestLoss, bestAccuracy, reader.ReadBoolean(), reader.ReadDouble());

        static double? Skip(double _) => null;
    }

    private static float[] ReadFloats(BinaryReader reader, int count)
    {
        var values = new float[count];
        for (int i = 0; i < count; i++)
            values[i] = reader.ReadSingle();
        return values;
    }

    /// <summary>Reads every weight tensor into <paramref name="network"/>, or only checks them when it is null.</summary>
    private static void ReadWeights(BinaryReader reader, IReadOnlyList<WeightTensor> weights, LstmClassifierNetwork? network)
    {
        int count = reader.ReadInt32();
        if (count != weights.Count)
            throw Corrupt($"it holds {count} weight tensors where the network has {weights.Count}");
        var expected = weights.ToDictionary(w => w.Name);
        var targets = network?.state_dict();
        using var noGrad = no_grad();
        var seen = new HashSet<string>();
        for (int i = 0; i < count; i++)
        {
            string name = reader.ReadString();
            if (!expected.TryGetValue(name, out var weight))
                throw Corrupt($"it holds an unknown weight tensor '{name}'");
            if (!seen.Add(name))
                throw Corrupt($"it holds weight tensor '{name}' twice");
            int rank = reader.ReadInt32();
            var dims = new long[Math.Clamp(rank, 0, MaxRank)];
            for (int d = 0; d < dims.Length; d++)
                dims[d] = reader.ReadInt64();
            if (rank != weight.Dimensions.Length || !dims.AsSpan().SequenceEqual(weight.Dimensions))
                throw Corrupt($"weight tensor '{name}' has shape [{string.Join(", ", dims)}] where [{string.Join(", ", weight.Dimensions)}] was expected");
            if (targets is null)
                TensorBytes.Skip(reader.BaseStream, weight.ElementCount * sizeof(float));
            else
                TensorBytes.Read(reader.BaseStream, targets[name]);
        }
    }

    /// <summary>Bytes a tensor takes in the entry: its name, rank, dimensions and data.</summary>
    private static long EncodedLength(WeightTensor weight)
    {
        int nameBytes = Encoding.UTF8.GetByteCount(weight.Name);
        int prefix = 1;
        for (int n = nameBytes; n >= 0x80; n >>= 7)
            prefix++;
        return prefix + nameBytes + sizeof(int) + sizeof(long) * weight.Dimensions.Length + sizeof(float) * weight.ElementCount;
    }

    internal static InvalidDataException Corrupt(string why) =>
        new($"The LSTM classifier's entry in the model file is damaged: {why}. The file cannot be loaded.");
}
