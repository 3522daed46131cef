using System.Runtime.CompilerServices;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace MlNetLstm.MlNetInternals;

internal static class CatalogEnvironment
{
    /// <summary>The environment of the MLContext a catalog belongs to; ML.NET exposes it only internally.</summary>
    /// <exception cref="NotSupportedException">The Microsoft.ML in this process lacks an internal member MlNetLstm uses.</exception>
    public static IHostEnvironment Of(TransformsCatalog catalog)
    {
        InternalApiCheck.EnsureCompatible();
        return EnvironmentOf(catalog);
    }

    // Not inlined: JIT-compiled (and its internal references resolved) only after the check passed.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static IHostEnvironment EnvironmentOf(TransformsCatalog catalog) => ((IInternalCatalog)catalog).GetEnvironment();
}
