using Microsoft.ML;
using Microsoft.ML.Data;

namespace MlNetLstm.TimeSeries;

/// <summary>
/// The cases of a <see cref="TsFile"/> as an in-memory <see cref="IDataView"/>: <c>Label</c> (text) and
/// <c>Features</c> (step-major floats; known size when every case has the same length). Any number of
/// cursors may read it at once; a cursor given a <see cref="Random"/> visits the rows in a shuffled order.
/// </summary>
internal sealed class TsDataView : IDataView
{
    private const int LabelIndex = 0;
    private const int FeaturesIndex = 1;
    private readonly TsFile file;
    private readonly ReadOnlyMemory<char>[] classLabels;

    public TsDataView(TsFile file)
    {
        this.file = file;
        classLabels = file.Info.ClassLabels.Select(label => label.AsMemory()).ToArray();
        var info = file.Info;
        var builder = new DataViewSchema.Builder();
        builder.AddColumn("Label", TextDataViewType.Instance);
        builder.AddColumn("Features", info.EqualLength
            ? new VectorDataViewType(NumberDataViewType.Single, info.MaxLength * info.Channels)
            : new VectorDataViewType(NumberDataViewType.Single));
        Schema = builder.ToSchema();
    }

    public DataViewSchema Schema { get; }

    public bool CanShuffle => true;

    public long? GetRowCount() => file.Features.Length;

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) =>
        new Cursor(this, columnsNeeded.Select(c => c.Index).ToHashSet(), rand is null ? null : Shuffled(file.Features.Length, rand));

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        [GetRowCursor(columnsNeeded, rand)];

    /// <summary>A Fisher–Yates permutation of the row indices.</summary>
    private static int[] Shuffled(int count, Random rand)
    {
        var order = Enumerable.Range(0, count).ToArray();
        for (int i = count - 1; i > 0; i--)
        {
            int j = rand.Next(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }

    private sealed class Cursor : DataViewRowCursor
    {
        private readonly TsDataView parent;
        private readonly HashSet<int> active;
        private readonly int[]? order;
        private long position = -1;
        private int row = -1; // the file's case under the cursor
        private bool done;

        public Cursor(TsDataView parent, HashSet<int> active, int[]? order)
        {
            this.parent = parent;
            this.active = active;
            this.order = order;
        }

        public override DataViewSchema Schema => parent.Schema;
        public override long Position => position;
        public override long Batch => 0;

        public override bool IsColumnActive(DataViewSchema.Column column) => active.Contains(column.Index);

        public override bool MoveNext()
        {
            if (done || position + 1 >= parent.file.Features.Length)
            {
                done = true; // past the end: getters refuse from now on
                return false;
            }
            position++;
            row = order is null ? (int)position : order[position];
            return true;
        }

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (column.Index is not (LabelIndex or FeaturesIndex) || !IsColumnActive(column))
                throw new InvalidOperationException($"Column '{column.Name}' was not requested when this cursor was created.");
            Delegate getter = column.Index == FeaturesIndex
                ? (ValueGetter<VBuffer<float>>)GetFeatures
                : (ValueGetter<ReadOnlyMemory<char>>)GetLabel;
            return getter as ValueGetter<TValue> ?? throw new InvalidOperationException(
                $"Column '{column.Name}' holds {column.Type}; it cannot be read as {typeof(TValue).Name}.");
        }

        /// <summary>The id is the case's place in the file, whatever order the cursor visits it in.</summary>
        public override ValueGetter<DataViewRowId> GetIdGetter() => (ref DataViewRowId id) =>
        {
            CheckOnRow();
            id = new DataViewRowId((ulong)row, 0);
        };

        private void CheckOnRow()
        {
            if (position < 0 || done)
                throw new InvalidOperationException("The cursor is not on a row: call MoveNext first, and stop when it returns false.");
        }

        /// <summary>Copies into the caller's buffer, which it may then change without touching the loaded data.</summary>
        private void GetFeatures(ref VBuffer<float> features)
        {
            CheckOnRow();
            var values = parent.file.Features[row];
            var editor = VBufferEditor.Create(ref features, values.Length);
            values.CopyTo(editor.Values);
            features = editor.Commit();
        }

        private void GetLabel(ref ReadOnlyMemory<char> label)
        {
            CheckOnRow();
            int index = parent.file.LabelIndices[row];
            label = index < 0 ? ReadOnlyMemory<char>.Empty : parent.classLabels[index];
        }
    }
}
