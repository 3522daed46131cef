using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MlNetLstm.Schema;

/// <summary>
/// The values behind the label's keys (the KeyValues annotation MapValueToKey adds), kept so the output
/// columns can carry them and so they travel with a saved model.
/// </summary>
internal sealed class LabelKeyValues
{
    private readonly ValueCodec codec;

    /// <summary>One of the element arrays below, e.g. float[] for digit labels.</summary>
    public Array Values { get; }

    public PrimitiveDataViewType ItemType => codec.Type;

    public int Count => Values.Length;

    private LabelKeyValues(ValueCodec codec, Array values)
    {
        this.codec = codec;
        Values = values;
    }

    /// <summary>The label column's key values, or null when it has none (or of a type we cannot store).</summary>
    public static LabelKeyValues? FromLabelColumn(DataViewSchema.Column label)
    {
        var annotation = label.Annotations.Schema.GetColumnOrNull(AnnotationKinds.KeyValues);
        if (annotation?.Type is not VectorDataViewType { ItemType: PrimitiveDataViewType itemType })
            return null;
        var codec = Codecs.FirstOrDefault(c => c.Type.Equals(itemType));
        return codec is null ? null : new LabelKeyValues(codec, codec.ReadAnnotation(label.Annotations));
    }

    /// <summary>Adds the values as a vector annotation of their own type (KeyValues, TrainingLabelValues).</summary>
    public void AddAnnotation(DataViewSchema.Annotations.Builder builder, string kind) =>
        codec.AddAnnotation(builder, kind, Values);

    /// <summary>Adds the values as text, the form SlotNames must have.</summary>
    public void AddTextAnnotation(DataViewSchema.Annotations.Builder builder, string kind)
    {
        var text = new ReadOnlyMemory<char>[Count];
        for (int i = 0; i < text.Length; i++)
            text[i] = codec.ToText(Values, i).AsMemory();
        ValueGetter<VBuffer<ReadOnlyMemory<char>>> getter = (ref VBuffer<ReadOnlyMemory<char>> dst) =>
            new VBuffer<ReadOnlyMemory<char>>(text.Length, text).CopyTo(ref dst);
        builder.Add(kind, new VectorDataViewType(TextDataViewType.Instance, text.Length), getter);
    }

    /// <summary>Bytes <see cref="Write"/> takes.</summary>
    public long EncodedLength
    {
        get
        {
            using var counter = new LengthCounter();
            using (var writer = new BinaryWriter(counter, System.Text.Encoding.UTF8, leaveOpen: true))
                Write(writer);
            return counter.Count;
        }
    }

    public void Write(BinaryWriter writer)
    {
        writer.Write(codec.Code);
        writer.Write(Count);
        codec.WriteValues(writer, Values);
    }

    /// <param name="reader">Positioned at values written by <see cref="Write"/>.</param>
    /// <param name="expectedCount">The class count the values must match.</param>
    /// <param name="bytesLeft">Bytes left in the record: every value takes at least one.</param>
    public static LabelKeyValues Read(BinaryReader reader, int expectedCount, long bytesLeft)
    {
        byte code = reader.ReadByte();
        var codec = Codecs.FirstOrDefault(c => c.Code == code)
            ?? throw new InvalidDataException($"Unknown label value type code {code}.");
        int count = reader.ReadInt32();
        if (count != expectedCount || count > bytesLeft)
            throw new InvalidDataException($"Expected {expectedCount} label values, found {count}.");
        return new LabelKeyValues(codec, codec.ReadValues(reader, count));
    }

    /// <summary>The value of class <paramref name="index"/> (0-based) as text.</summary>
    public string TextOf(int index) => codec.ToText(Values, index);

    /// <summary>Whether <paramref name="other"/> maps the keys to the same values.</summary>
    public bool SameValuesAs(LabelKeyValues other) =>
        Count == other.Count && ItemType.Equals(other.ItemType)
        && Enumerable.Range(0, Count).All(i => codec.ToText(Values, i) == other.codec.ToText(other.Values, i));

    /// <summary>The key value types MapValueToKey produces in practice; each has a stable code in saved models.</summary>
    private static readonly ValueCodec[] Codecs =
    {
        new Codec<ReadOnlyMemory<char>>(1, TextDataViewType.Instance, (w, v) => w.Write(v.ToString()), r => r.ReadString().AsMemory(), v => v.ToString()),
        new Codec<float>(2, NumberDataViewType.Single, (w, v) => w.Write(v), r => r.ReadSingle(), v => v.ToString("R", CultureInfo.InvariantCulture)),
        new Codec<double>(3, NumberDataViewType.Double, (w, v) => w.Write(v), r => r.ReadDouble(), v => v.ToString("R", CultureInfo.InvariantCulture)),
        new Codec<sbyte>(4, NumberDataViewType.SByte, (w, v) => w.Write(v), r => r.ReadSByte(), v => v.ToString(CultureInfo.InvariantCulture)),
        new Codec<byte>(5, NumberDataViewType.Byte, (w, v) => w.Write(v), r => r.ReadByte(), v => v.ToString(CultureInfo.InvariantCulture)),
        new Codec<short>(6, NumberDataViewType.Int16, (w, v) => w.Write(v), r => r.ReadInt16(), v => v.ToString(CultureInfo.InvariantCulture)),
        new Codec<ushort>(7, NumberDataViewType.UInt16, (w, v) => w.Write(v), r => r.ReadUInt16(), v => v.ToString(CultureInfo.InvariantCulture)),
        new Codec<int>(8, NumberDataViewType.Int32, (w, v) => w.Write(v), r => r.ReadInt32(), v => v.ToString(CultureInfo.InvariantCulture)),
        new Codec<uint>(9, NumberDataViewType.UInt32, (w, v) => w.Write(v), r => r.ReadUInt32(), v => v.ToString(CultureInfo.InvariantCulture)),
        new Codec<long>(10, NumberDataViewType.Int64, (w, v) => w.Write(v), r => r.ReadInt64(), v => v.ToString(CultureInfo.InvariantCulture)),
        new Codec<ulong>(11, NumberDataViewType.UInt64, (w, v) => w.Write(v), r => r.ReadUInt64(), v => v.ToString(CultureInfo.InvariantCulture)),
        new Codec<bool>(12, BooleanDataViewType.Instance, (w, v) => w.Write(v), r => r.ReadBoolean(), v => v.ToString(CultureInfo.InvariantCulture)),
    };

    private abstract class ValueCodec(byte code, PrimitiveDataViewType type)
    {
        public byte Code { get; } = code;
        public PrimitiveDataViewType Type { get; } = type;
        public abstract Array ReadAnnotation(DataViewSchema.Annotations annotations);
        public abstract void AddAnnotation(DataViewSchema.Annotations.Builder builder, string kind, Array values);
        public abstract void WriteValues(BinaryWriter writer, Array values);
        public abstract Array ReadValues(BinaryReader reader, int count);
        public abstract string ToText(Array values, int index);
    }

    private sealed class Codec<T>(
        byte code, PrimitiveDataViewType type, Action<BinaryWriter, T> write, Func<BinaryReader, T> read, Func<T, string> toText)
        : ValueCodec(code, type)
    {
        public override Array ReadAnnotation(DataViewSchema.Annotations annotations)
        {
            VBuffer<T> buffer = default;
            annotations.GetValue(AnnotationKinds.KeyValues, ref buffer);
            return buffer.DenseValues().ToArray();
        }

        public override void AddAnnotation(DataViewSchema.Annotations.Builder builder, string kind, Array values)
        {
            var typed = (T[])values;
            ValueGetter<VBuffer<T>> getter = (ref VBuffer<T> dst) => new VBuffer<T>(typed.Length, typed).CopyTo(ref dst);
            builder.Add(kind, new VectorDataViewType(Type, typed.Length), getter);
        }

        public override void WriteValues(BinaryWriter writer, Array values)
        {
            foreach (var value in (T[])values)
                write(writer, value);
        }

        public override Array ReadValues(BinaryReader reader, int count)
        {
            var values = new T[count];
            for (int i = 0; i < count; i++)
                values[i] = read(reader);
            return values;
        }

        public override string ToText(Array values, int index) => toText(((T[])values)[index]);
    }

    private sealed class LengthCounter : IO.ForwardWriteStream
    {
        public long Count { get; private set; }
        public override void Write(ReadOnlySpan<byte> buffer) => Count += buffer.Length;
    }
}
