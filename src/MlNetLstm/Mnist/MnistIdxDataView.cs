using Microsoft.ML;
using Microsoft.ML.Data;

namespace MlNetLstm.Mnist;

/// <summary>
/// An image file and a label file in IDX format as an <see cref="IDataView"/> with <c>Label</c> (the
/// digit, float) and <c>Features</c> (pixels scaled to [0, 1]). Cursors stream from the files, so
/// nothing is held in memory beyond one image.
/// </summary>
internal sealed class MnistIdxDataView : IDataView
{
    private readonly IdxFile images;
    private readonly IdxFile labels;

    public MnistIdxDataView(string imagesPath, string labelsPath)
    {
        images = IdxFile.Open(imagesPath, IdxFile.ImagesMagic);
        labels = IdxFile.Open(labelsPath, IdxFile.LabelsMagic);
        if (images.Count != labels.Count)
            throw new InvalidDataException(
                $"MNIST image file '{imagesPath}' holds {images.Count} images but label file '{labelsPath}' holds {labels.Count} labels.");
        var builder = new DataViewSchema.Builder();
        builder.AddColumn("Label", NumberDataViewType.Single);
        builder.AddColumn("Features", new VectorDataViewType(NumberDataViewType.Single, images.Rows, images.Columns));
        Schema = builder.ToSchema();
    }

    public DataViewSchema Schema { get; }

    public bool CanShuffle => false;

    public long? GetRowCount() => images.Count;

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) =>
        new Cursor(this, columnsNeeded.Select(c => c.Index).ToHashSet());

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        new[] { GetRowCursor(columnsNeeded, rand) };

    private sealed class Cursor : DataViewRowCursor
    {
        private const int LabelIndex = 0;
        private const int FeaturesIndex = 1;
        // byte / 255f, exactly as ML.NET's Expression transform "x => x / 255" computes it, so IDX and
        // CSV pipelines see bit-identical features.
        private static readonly float[] PixelValues = Enumerable.Range(0, 256).Select(b => b / 255f).ToArray();

        private readonly MnistIdxDataView parent;
        private readonly Stream? imageStream;
        private readonly Stream? labelStream;
        private readonly byte[] pixels;
        private readonly byte[] label = new byte[1];
        private long position = -1;
        private bool done;

        public Cursor(MnistIdxDataView parent, HashSet<int> active)
        {
            this.parent = parent;
            pixels = new byte[parent.images.ItemLength];
            if (active.Contains(FeaturesIndex))
                imageStream = parent.images.OpenItems();
            if (active.Contains(LabelIndex))
                labelStream = parent.labels.OpenItems();
        }

        public override DataViewSchema Schema => parent.Schema;
        public override long Position => position;
        public override long Batch => 0;

        public override bool IsColumnActive(DataViewSchema.Column column) =>
            column.Index == FeaturesIndex ? imageStream is not null : labelStream is not null;

        public override bool MoveNext()
        {
            if (position + 1 >= parent.images.Count)
            {
                done = true; // past the end: getters refuse from now on
                return false;
            }
            if (imageStream is not null)
                parent.images.ReadItem(imageStream, pixels);
            if (labelStream is not null)
                parent.labels.ReadItem(labelStream, label);
            position++;
            return true;
        }

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (!IsColumnActive(column))
                throw new InvalidOperationException($"Column '{column.Name}' was not requested when this cursor was created.");
            Delegate getter = column.Index == FeaturesIndex
                ? (ValueGetter<VBuffer<float>>)GetFeatures
                : (ValueGetter<float>)GetLabel;
            return getter as ValueGetter<TValue> ?? throw new InvalidOperationException(
                $"Column '{column.Name}' holds {column.Type}; it cannot be read as {typeof(TValue).Name}.");
        }

        public override ValueGetter<DataViewRowId> GetIdGetter() => (ref DataViewRowId id) =>
        {
            CheckOnRow();
            id = new DataViewRowId((ulong)position, 0);
        };

        private void CheckOnRow()
        {
            if (position < 0 || done)
                throw new InvalidOperationException("The cursor is not on a row: call MoveNext first, and stop when it returns false.");
        }

        private void GetFeatures(ref VBuffer<float> features)
        {
            CheckOnRow();
            var editor = VBufferEditor.Create(ref features, pixels.Length);
            for (int i = 0; i < pixels.Length; i++)
                editor.Values[i] = PixelValues[pixels[i]];
            features = editor.Commit();
        }

        private void GetLabel(ref float digit)
        {
            CheckOnRow();
            digit = label[0];
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                imageStream?.Dispose();
                labelStream?.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
