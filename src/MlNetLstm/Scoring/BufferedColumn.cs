using Microsoft.ML;
using Microsoft.ML.Data;

namespace MlNetLstm.Scoring;

/// <summary>
/// Holds one input column's values for a batch of rows read ahead, so the scoring cursor can serve
/// pass-through columns row by row after scoring the whole batch at once.
/// </summary>
internal abstract class BufferedColumn
{
    /// <summary>Copies the input cursor's current value into <paramref name="slot"/>.</summary>
    public abstract void Store(int slot);

    /// <summary>A getter serving the value stored in the slot <paramref name="currentSlot"/> returns.</summary>
    public abstract Delegate MakeGetter(Func<int> currentSlot);

    public static BufferedColumn Create(DataViewRowCursor input, DataViewSchema.Column column, int capacity)
    {
        var type = typeof(BufferedColumn<>).MakeGenericType(column.Type.RawType);
        return (BufferedColumn)Activator.CreateInstance(type, input, column, capacity)!;
    }

    internal static void CopyVector<TItem>(in VBuffer<TItem> source, ref VBuffer<TItem> destination) =>
        source.CopyTo(ref destination);
}

internal sealed class BufferedColumn<T> : BufferedColumn
{
    private delegate void CopyValue(in T source, ref T destination);

    // Vectors are deep-copied: the consumer's buffer must never alias ours, which is refilled each batch.
    // Every other column type ML.NET defines is an immutable value.
    private static readonly CopyValue Copy = MakeCopy();

    private readonly ValueGetter<T> source;
    private readonly T[] values;

    public BufferedColumn(DataViewRowCursor input, DataViewSchema.Column column, int capacity)
    {
        source = input.GetGetter<T>(column);
        values = new T[capacity];
    }

    public override void Store(int slot) => source(ref values[slot]);

    public override Delegate MakeGetter(Func<int> currentSlot) =>
        (ValueGetter<T>)((ref T value) => Copy(in values[currentSlot()], ref value));

    private static CopyValue MakeCopy()
    {
        if (typeof(T).IsGenericType && typeof(T).GetGenericTypeDefinition() == typeof(VBuffer<>))
        {
            return typeof(BufferedColumn).GetMethod(nameof(CopyVector), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!
                .MakeGenericMethod(typeof(T).GetGenericArguments()[0])
                .CreateDelegate<CopyValue>();
        }
        return (in T source, ref T destination) => destination = source;
    }
}
