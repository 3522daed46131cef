using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace MlNetLstm.Network.Fused;

/// <summary>
/// The LSTM cell's nonlinearities on AVX-512 vectors. exp is 2^n · p(r) with n = round(x·log2 e),
/// r = x − n·ln 2 (split in two constants) and a degree-6 polynomial, scaled by <c>vscalefps</c>;
/// inputs are clamped to ±80 so 1 + e^x stays finite and its reciprocal a normal number. Reciprocals
/// are rcp14 plus one Newton step (≈2⁻²⁸ relative error) rather than a full-latency division.
/// </summary>
internal static unsafe class VectorMath
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp(Vector512<float> x)
    {
        // Avx512F.Min/Max are single vminps/vmaxps (Vector512.Min/Max follow IEEE 754-2019 and cost three
        // instructions); they return their second operand when either is NaN, so x goes second: NaN stays NaN.
        x = Avx512F.Min(Vector512.Create(80f), Avx512F.Max(Vector512.Create(-80f), x));
        // round(x log2 e) by adding and subtracting 1.5·2^23: two cheap operations instead of vrndscaleps.
        var magic = Vector512.Create(12582912f);
        var n = Vector512.FusedMultiplyAdd(x, Vector512.Create(1.44269504f), magic) - magic;
        var r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-0.693145751953125f), x);
        r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-1.428606765330187e-6f), r);
        var p = Vector512.Create(1f / 720);
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1f / 120));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1f / 24));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1f / 6));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(0.5f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512<float>.One);
        p = Vector512.FusedMultiplyAdd(p, r, Vector512<float>.One);
        return Avx512F.Scale(p, n);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Reciprocal(Vector512<float> d)
    {
        var r = Avx512F.Reciprocal14(d);
        return r * Vector512.FusedMultiplyAdd(-d, r, Vector512.Create(2f));
    }

    /// <summary>tanh(v) = 1 − 2 / (e^(2v) + 1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Tanh(Vector512<float> v)
    {
        var two = Vector512.Create(2f);
        return Vector512.FusedMultiplyAdd(-two, Reciprocal(Exp(v * two) + Vector512<float>.One), Vector512<float>.One);
    }

    /// <summary>
    /// Sigmoid of four vectors and <see cref="Tanh"/> of a fifth, their steps interleaved: one sigmoid
    /// alone is a long dependency chain, and written one after another the core overlapped only about two
    /// of them (the cell computes tanh(c) of one vector alongside the gates of the next). The fifth result
    /// has the bits <see cref="Tanh"/> gives.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Sigmoid4Tanh(ref Vector512<float> x0, ref Vector512<float> x1, ref Vector512<float> x2, ref Vector512<float> x3, ref Vector512<float> t)
    {
        var lo = Vector512.Create(-80f);
        var hi = Vector512.Create(80f);
        var two = Vector512.Create(2f);
        var y0 = Avx512F.Min(hi, Avx512F.Max(lo, -x0));
        var y1 = Avx512F.Min(hi, Avx512F.Max(lo, -x1));
        var y2 = Avx512F.Min(hi, Avx512F.Max(lo, -x2));
        var y3 = Avx512F.Min(hi, Avx512F.Max(lo, -x3));
        var y4 = Avx512F.Min(hi, Avx512F.Max(lo, t * two));
        var magic = Vector512.Create(12582912f);
        var log2e = Vector512.Create(1.44269504f);
        var n0 = Vector512.FusedMultiplyAdd(y0, log2e, magic) - magic;
        var n1 = Vector512.FusedMultiplyAdd(y1, log2e, magic) - magic;
        var n2 = Vector512.FusedMultiplyAdd(y2, log2e, magic) - magic;
        var n3 = Vector512.FusedMultiplyAdd(y3, log2e, magic) - magic;
        var n4 = Vector512.FusedMultiplyAdd(y4, log2e, magic) - magic;
        var ln2Hi = Vector512.Create(-0.693145751953125f);
        var ln2Lo = Vector512.Create(-1.428606765330187e-6f);
        var r0 = Vector512.FusedMultiplyAdd(n0, ln2Lo, Vector512.FusedMultiplyAdd(n0, ln2Hi, y0));
        var r1 = Vector512.FusedMultiplyAdd(n1, ln2Lo, Vector512.FusedMultiplyAdd(n1, ln2Hi, y1));
        var r2 = Vector512.FusedMultiplyAdd(n2, ln2Lo, Vector512.FusedMultiplyAdd(n2, ln2Hi, y2));
        var r3 = Vector512.FusedMultiplyAdd(n3, ln2Lo, Vector512.FusedMultiplyAdd(n3, ln2Hi, y3));
        var r4 = Vector512.FusedMultiplyAdd(n4, ln2Lo, Vector512.FusedMultiplyAdd(n4, ln2Hi, y4));
        var p0 = Vector512.Create(1f / 720);
        var p1 = p0;
        var p2 = p0;
        var p3 = p0;
        var p4 = p0;
        Horner5(ref p0, ref p1, ref p2, ref p3, ref p4, r0, r1, r2, r3, r4, 1f / 120);
        Horner5(ref p0, ref p1, ref p2, ref p3, ref p4, r0, r1, r2, r3, r4, 1f / 24);
        Horner5(ref p0, ref p1, ref p2, ref p3, ref p4, r0, r1, r2, r3, r4, 1f / 6);
        Horner5(ref p0, ref p1, ref p2, ref p3, ref p4, r0, r1, r2, r3, r4, 0.5f);
        Horner5(ref p0, ref p1, ref p2, ref p3, ref p4, r0, r1, r2, r3, r4, 1f);
        Horner5(ref p0, ref p1, ref p2, ref p3, ref p4, r0, r1, r2, r3, r4, 1f);
        var one = Vector512<float>.One;
        x0 = Reciprocal(Avx512F.Scale(p0, n0) + one);
        x1 = Reciprocal(Avx512F.Scale(p1, n1) + one);
        x2 = Reciprocal(Avx512F.Scale(p2, n2) + one);
        x3 = Reciprocal(Avx512F.Scale(p3, n3) + one);
        t = Vector512.FusedMultiplyAdd(-two, Reciprocal(Avx512F.Scale(p4, n4) + one), one);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Horner5(ref Vector512<float> p0, ref Vector512<float> p1, ref Vector512<float> p2, ref Vector512<float> p3, ref Vector512<float> p4,
        Vector512<float> r0, Vector512<float> r1, Vector512<float> r2, Vector512<float> r3, Vector512<float> r4, float coefficient)
    {
        var c = Vector512.Create(coefficient);
        p0 = Vector512.FusedMultiplyAdd(p0, r0, c);
        p1 = Vector512.FusedMultiplyAdd(p1, r1, c);
        p2 = Vector512.FusedMultiplyAdd(p2, r2, c);
        p3 = Vector512.FusedMultiplyAdd(p3, r3, c);
        p4 = Vector512.FusedMultiplyAdd(p4, r4, c);
    }

    /// <summary>Dot product of two float runs whose length is a multiple of 16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Dot(float* a, float* b, int count)
    {
        var sum = Vector512<float>.Zero;
        for (int j = 0; j < count; j += 16)
            sum = Vector512.FusedMultiplyAdd(Vector512.Load(a + j), Vector512.Load(b + j), sum);
        return Vector512.Sum(sum);
    }

    /// <summary>dst += src over <paramref name="count"/> floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AddInto(float* dst, float* src, int count)
    {
        int i = 0;
        for (; i + 16 <= count; i += 16)
            Vector512.Store(Vector512.Load(dst + i) + Vector512.Load(src + i), dst + i);
        for (; i < count; i++)
            dst[i] += src[i];
    }
}
