using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace MlNetLstm.Benchmarks;

/// <summary>
/// The machine's float32 peak as this program can reach it: independent fused multiply-adds on the
/// widest vectors the CPU has, one thread per core, all at once. Training and inference GFLOP/s are
/// reported as fractions of it.
/// </summary>
public static class PeakFlops
{
    // Kernels are compiled fully optimised at once (AggressiveOptimization), so short runs measure the same code.
    // FMAs per loop iteration: enough independent chains to cover an FMA's latency on every FMA unit (4 cycles × 2 units).
    private const int Chains = 16;
    private const int Iterations = 4_096;

    private static float sink;

    /// <summary>
    /// GFLOP/s of all cores together (a multiply-add counts as two) in each of <paramref name="rounds"/>
    /// rounds of <paramref name="duration"/>; the best is the peak, the slowest shows a core the machine
    /// took away meanwhile. Empty where there is no fused multiply-add to measure with.
    /// </summary>
    public static double[] MeasureGflops(TimeSpan duration, int rounds)
    {
        if (!Avx512F.IsSupported && !Fma.IsSupported)
            return [];
        return Enumerable.Range(0, rounds).Select(_ => AllCores(duration)).ToArray();
    }

    /// <summary>The vector instructions used, for the log.</summary>
    public static string Instructions =>
        Avx512F.IsSupported ? "AVX-512 FMA" : Fma.IsSupported ? "AVX2 FMA" : "none: this CPU has no x86 FMA";

    private static double AllCores(TimeSpan duration)
    {
        int cores = Environment.ProcessorCount;
        var flops = new double[cores];
        using var start = new Barrier(cores);
        var threads = Enumerable.Range(0, cores).Select(i => new Thread(() =>
        {
            start.SignalAndWait();
            flops[i] = OneCore(duration);
        }) { IsBackground = true }).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        return flops.Sum() / 1e9;
    }

    /// <summary>Floating-point operations per second of one thread.</summary>
    private static double OneCore(TimeSpan duration)
    {
        var clock = Stopwatch.StartNew();
        long blocks = 0;
        int lanes;
        do
        {
            lanes = Block();
            blocks++;
        }
        while (clock.Elapsed < duration);
        return blocks * (double)Iterations * Chains * lanes * 2 / clock.Elapsed.TotalSeconds;
    }

    /// <summary>One block of <see cref="Iterations"/> × <see cref="Chains"/> vector FMAs; returns the lanes per vector.</summary>
    private static int Block()
    {
        if (Avx512F.IsSupported)
            return Block512();
        return Block256();
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static int Block512()
    {
        var m = Vector512.Create(0.999999f);
        var a = Vector512.Create(1e-7f);
        Vector512<float> a0 = Vector512.Create(0f), a1 = Vector512.Create(1f), a2 = Vector512.Create(2f), a3 = Vector512.Create(3f),
            a4 = Vector512.Create(4f), a5 = Vector512.Create(5f), a6 = Vector512.Create(6f), a7 = Vector512.Create(7f),
            a8 = Vector512.Create(8f), a9 = Vector512.Create(9f), a10 = Vector512.Create(10f), a11 = Vector512.Create(11f),
            a12 = Vector512.Create(12f), a13 = Vector512.Create(13f), a14 = Vector512.Create(14f), a15 = Vector512.Create(15f);
        for (int i = 0; i < Iterations; i++)
        {
            a0 = Avx512F.FusedMultiplyAdd(a0, m, a); a1 = Avx512F.FusedMultiplyAdd(a1, m, a);
            a2 = Avx512F.FusedMultiplyAdd(a2, m, a); a3 = Avx512F.FusedMultiplyAdd(a3, m, a);
            a4 = Avx512F.FusedMultiplyAdd(a4, m, a); a5 = Avx512F.FusedMultiplyAdd(a5, m, a);
            a6 = Avx512F.FusedMultiplyAdd(a6, m, a); a7 = Avx512F.FusedMultiplyAdd(a7, m, a);
            a8 = Avx512F.FusedMultiplyAdd(a8, m, a); a9 = Avx512F.FusedMultiplyAdd(a9, m, a);
            a10 = Avx512F.FusedMultiplyAdd(a10, m, a); a11 = Avx512F.FusedMultiplyAdd(a11, m, a);
            a12 = Avx512F.FusedMultiplyAdd(a12, m, a); a13 = Avx512F.FusedMultiplyAdd(a13, m, a);
            a14 = Avx512F.FusedMultiplyAdd(a14, m, a); a15 = Avx512F.FusedMultiplyAdd(a15, m, a);
        }
        var sum = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11 + a12 + a13 + a14 + a15;
        sink += Vector512.Sum(sum); // keeps the work observable
        return Vector512<float>.Count;
    }

    /// <summary>AVX2 has 16 registers: 8 accumulators (enough for 4 cycles' latency on 2 units), each updated twice per iteration.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static int Block256()
    {
        var m = Vector256.Create(0.999999f);
        var a = Vector256.Create(1e-7f);
        Vector256<float> a0 = Vector256.Create(0f), a1 = Vector256.Create(1f), a2 = Vector256.Create(2f), a3 = Vector256.Create(3f),
            a4 = Vector256.Create(4f), a5 = Vector256.Create(5f), a6 = Vector256.Create(6f), a7 = Vector256.Create(7f);
        for (int i = 0; i < Iterations; i++)
        {
            a0 = Fma.MultiplyAdd(a0, m, a); a1 = Fma.MultiplyAdd(a1, m, a); a2 = Fma.MultiplyAdd(a2, m, a); a3 = Fma.MultiplyAdd(a3, m, a);
            a4 = Fma.MultiplyAdd(a4, m, a); a5 = Fma.MultiplyAdd(a5, m, a); a6 = Fma.MultiplyAdd(a6, m, a); a7 = Fma.MultiplyAdd(a7, m, a);
            a0 = Fma.MultiplyAdd(a0, m, a); a1 = Fma.MultiplyAdd(a1, m, a); a2 = Fma.MultiplyAdd(a2, m, a); a3 = Fma.MultiplyAdd(a3, m, a);
            a4 = Fma.MultiplyAdd(a4, m, a); a5 = Fma.MultiplyAdd(a5, m, a); a6 = Fma.MultiplyAdd(a6, m, a); a7 = Fma.MultiplyAdd(a7, m, a);
        }
        var sum = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
        sink += Vector256.Sum(sum);
        return Vector256<float>.Count;
    }
}
