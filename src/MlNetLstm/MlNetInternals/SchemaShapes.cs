using Microsoft.ML;
using Microsoft.ML.Data;

namespace MlNetLstm.MlNetInternals;

/// <summary>Builds <see cref="SchemaShape.Column"/> values, whose constructor ML.NET keeps internal.</summary>
internal static class SchemaShapes
{
    public static SchemaShape.Column Column(
        string name, SchemaShape.Column.VectorKind kind, DataViewType itemType, bool isKey,
        IEnumerable<SchemaShape.Column>? annotations = null) =>
        new(name, kind, itemType, isKey, annotations is null ? null : new SchemaShape(annotations));

    public static SchemaShape.Column Vector(string name, DataViewType itemType) =>
        Column(name, SchemaShape.Column.VectorKind.Vector, itemType, isKey: false);
}
