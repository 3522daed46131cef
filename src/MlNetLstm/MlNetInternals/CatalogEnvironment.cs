using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace MlNetLstm.MlNetInternals;

internal static class CatalogEnvironment
{
    /// <summary>The environment of the MLContext a catalog belongs to; ML.NET exposes it only internally.</summary>
    public static IHostEnvironment Of(TransformsCatalog catalog) => ((IInternalCatalog)catalog).GetEnvironment();
}
