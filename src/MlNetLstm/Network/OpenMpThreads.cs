using System.Runtime.InteropServices;
using TorchSharp;

namespace MlNetLstm.Network;

/// <summary>
/// Sets the OpenMP thread count of the calling thread only, which libtorch's CPU kernels (oneDNN among
/// them) read for each call. <c>torch.set_num_threads</c> cannot do that: it also changes process-wide
/// settings (MKL's thread count, the count new threads start with) under whatever else the process runs.
/// </summary>
/// <remarks>
/// OpenMP keeps the count per thread (<c>omp_set_num_threads</c> sets the calling thread's nthreads-var).
/// The function comes from the OpenMP runtime libtorch itself loaded, found through libtorch's
/// dependencies; where it cannot be found, or the count it sets is not the one libtorch then reports,
/// <see cref="TryUseOneThreadOnThisThread"/> returns false and callers keep libtorch's threads.
/// </remarks>
internal static class OpenMpThreads
{
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate void SetNumThreadsFunction(int threads);

    private static readonly Lazy<SetNumThreadsFunction?> SetNumThreads = new(FindSetNumThreads);

    /// <summary>
    /// Makes libtorch run this thread's work on this thread alone; true when libtorch confirms it.
    /// Call it on a thread the library owns: the setting stays with the thread.
    /// </summary>
    public static bool TryUseOneThreadOnThisThread()
    {
        if (SetNumThreads.Value is not { } setNumThreads)
            return false;
        // libtorch gives each thread the process's count at its first query; take that first, then
        // override it for this thread.
        _ = torch.get_num_threads();
        setNumThreads(1);
        return torch.get_num_threads() == 1;
    }

    private static SetNumThreadsFunction? FindSetNumThreads()
    {
        _ = torch.get_num_threads(); // libtorch and its OpenMP runtime are loaded by now
        // dlsym on a library's handle also searches the libraries it depends on (Linux, macOS); Windows'
        // libtorch uses Intel's OpenMP runtime, named directly.
        string[] candidates = OperatingSystem.IsWindows() ? ["libiomp5md.dll"]
            : OperatingSystem.IsMacOS() ? ["libtorch_cpu.dylib", "libomp.dylib"]
            : ["libtorch_cpu.so"];
        foreach (string name in candidates)
        {
            if ((NativeLibrary.TryLoad(name, out nint library)
                    || NativeLibrary.TryLoad(name, typeof(torch).Assembly, DllImportSearchPath.SafeDirectories | DllImportSearchPath.AssemblyDirectory, out library))
                && NativeLibrary.TryGetExport(library, "omp_set_num_threads", out nint function))
                return Marshal.GetDelegateForFunctionPointer<SetNumThreadsFunction>(function);
        }
        return null;
    }
}
