using Microsoft.ML;
using Microsoft.ML.Data;

namespace MlNetLstm.Tests;

/// <summary>
/// Rows made up as a cursor reads them — a source like a database query or a file read on the fly:
/// nothing is held in memory, and the row count is reported or not.
/// </summary>
public sealed class GeneratedData : IDataView
{
    private readonly int rows;
    private readonly int length;
    private readonly bool reportsRowCount;

    public GeneratedData(int rows, int length, bool reportsRowCount)
    {
        this.rows = rows;
        this.length = length;
        this.reportsRowCount = reportsRowCount;
        var builder = new DataViewSchema.Builder();
        builder.AddColumn("Label", new KeyDataViewType(typeof(uint), 10));
        builder.AddColumn("Features", new VectorDataViewType(NumberDataViewType.Single, length));
        Schema = builder.ToSchema();
    }

    public DataViewSchema Schema { get; }
    public bool CanShuffle => false;
    public long? GetRowCount() => reportsRowCount ? rows : null;

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) => new Cursor(this);

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        new[] { GetRowCursor(columnsNeeded, rand) };

    private sealed class Cursor(GeneratedData data) : DataViewRowCursor
    {
        private long position = -1;

        public override DataViewSchema Schema => data.Schema;
        public override long Position => position;
        public override long Batch => 0;
        public override bool IsColumnActive(DataViewSchema.Column column) => true;
        public override ValueGetter<DataViewRowId> GetIdGetter() => (ref DataViewRowId id) => id = new DataViewRowId((ulong)position, 0);

        public override bool MoveNext() => ++position < data.rows;

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (column.Index == 0)
                return (ValueGetter<TValue>)(Delegate)(ValueGetter<uint>)((ref uint key) => key = (uint)(position % 10) + 1);
            return (ValueGetter<TValue>)(Delegate)(ValueGetter<VBuffer<float>>)((ref VBuffer<float> features) =>
            {
                var editor = VBufferEditor.Create(ref features, data.length);
                for (int i = 0; i < data.length; i++)
                    editor.Values[i] = ((position * 31 + i * 7) % 256) / 255f;
                features = editor.Commit();
            });
        }
    }
}
