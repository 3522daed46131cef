using System.Reflection;
using Microsoft.ML;

namespace MlNetLstm.Tests;

public static class SchemaShapes
{
    /// <summary>The shape ML.NET's estimator chains pass between estimators (its factory is internal).</summary>
    public static SchemaShape Of(DataViewSchema schema) =>
        (SchemaShape)typeof(SchemaShape).GetMethod("Create", BindingFlags.NonPublic | BindingFlags.Static)!
            .Invoke(null, new object[] { schema })!;
}
