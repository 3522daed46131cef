using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetLstm.Network;
using MlNetLstm.Scoring;
using static TorchSharp.torch;

namespace MlNetLstm.Training;

/// <summary>
/// Labelled rows of an <see cref="IDataView"/> held as two tensors: features [rows, length] and 0-based
/// class indices [rows]. One pass of a cursor fills them; epochs then sample from memory.
/// </summary>
internal sealed class TrainingSet : IDisposable
{
    public Tensor Features { get; }
    public Tensor Labels { get; }
    public int Count { get; }

    /// <summary>Rows left out because the label was missing or a feature was NaN or infinite.</summary>
    public long SkippedRows { get; }

    private TrainingSet(Tensor features, Tensor labels, int count, long skipped)
    {
        Features = features;
        Labels = labels;
        Count = count;
        SkippedRows = skipped;
    }

    public static TrainingSet Read(
        IDataView data, DataViewSchema.Column labelColumn, DataViewSchema.Column featureColumn,
        int featureLength, int classCount, Action checkAlive)
    {
        long capacity = Math.Max(data.GetRowCount() ?? 1024, 1);
        long maxRows = Array.MaxLength / featureLength;
        var features = new float[Math.Min(capacity, maxRows) * featureLength];
        var labels = new long[features.Length / featureLength];
        int count = 0;
        long skipped = 0;

        using (var cursor = data.GetRowCursor(new[] { labelColumn, featureColumn }))
        {
            var readKey = KeyReader(cursor, labelColumn);
            var getFeatures = cursor.GetGetter<VBuffer<float>>(featureColumn);
            VBuffer<float> row = default;
            while (cursor.MoveNext())
            {
                if ((cursor.Position & 1023) == 0)
                    checkAlive();
                ulong key = readKey();
                getFeatures(ref row);
                if (key == 0 || key > (ulong)classCount)
                {
                    skipped++;
                    continue;
                }
                if (count == labels.Length)
                {
                    if (count >= maxRows)
                        throw new InvalidOperationException(
                            $"The training data has more than {maxRows} rows of {featureLength} features, more than fit in memory at once.");
                    long grown = Math.Min((long)count * 2, maxRows);
                    Array.Resize(ref features, (int)(grown * featureLength));
                    Array.Resize(ref labels, (int)grown);
                }
                var destination = features.AsSpan(count * featureLength, featureLength);
                FeatureRows.CopyChecked(row, destination, featureColumn);
                if (!FeatureRows.AllFinite(destination))
                {
                    skipped++;
                    continue;
                }
                labels[count++] = (long)key - 1;
            }
        }

        var featureTensor = zeros(count, featureLength);
        var labelTensor = zeros(count, dtype: ScalarType.Int64);
        // In chunks: a span over tensor memory is limited to 2 GiB.
        int rowsPerChunk = Math.Max(1, int.MaxValue / sizeof(float) / featureLength);
        for (int start = 0; start < count; start += rowsPerChunk)
        {
            int rows = Math.Min(rowsPerChunk, count - start);
            using var chunk = featureTensor.narrow(0, start, rows);
            features.AsSpan(start * featureLength, rows * featureLength).CopyTo(chunk.FloatSpan());
        }
        if (count > 0)
            labels.AsSpan(0, count).CopyTo(labelTensor.LongSpan());
        return new TrainingSet(featureTensor, labelTensor, count, skipped);
    }

    /// <summary>Reads a key of any unsigned raw type as a 1-based ulong (0 is missing).</summary>
    private static Func<ulong> KeyReader(DataViewRowCursor cursor, DataViewSchema.Column column)
    {
        var raw = column.Type.RawType;
        if (raw == typeof(uint)) return Widen<uint>(cursor, column, v => v);
        if (raw == typeof(ushort)) return Widen<ushort>(cursor, column, v => v);
        if (raw == typeof(byte)) return Widen<byte>(cursor, column, v => v);
        if (raw == typeof(ulong)) return Widen<ulong>(cursor, column, v => v);
        throw new ArgumentOutOfRangeException("inputSchema", $"Label column '{column.Name}' has unsupported key type {column.Type}.");
    }

    private static Func<ulong> Widen<T>(DataViewRowCursor cursor, DataViewSchema.Column column, Func<T, ulong> widen)
    {
        var getter = cursor.GetGetter<T>(column);
        T value = default!;
        return () =>
        {
            getter(ref value);
            return widen(value);
        };
    }

    public void Dispose()
    {
        Features.Dispose();
        Labels.Dispose();
    }
}
