// Register-blocked fp32 GEMM microkernels for the LSTM kernel (AVX-512 via Vector512).
// Shape: 8 rows x up to 3 vectors (48 columns) = 24 zmm accumulators; each A element is
// broadcast once into a register and reused for the 3 B vectors, so per k step there are 8 broadcast
// loads + 3 B loads for 24 FMAs (fits the 2 load ports / 2 FMA ports of the target core).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace MlNetLstm.Network.Fused;

internal interface IWidth { static abstract int Vectors { get; } }
internal struct W1 : IWidth { public static int Vectors => 1; }
internal struct W2 : IWidth { public static int Vectors => 2; }
internal struct W3 : IWidth { public static int Vectors => 3; }

/// <summary>Where A's element (row r, step kk) sits, for a leading dimension lda: a + r*RowStride + kk*StepStride.</summary>
internal interface IALayout { static abstract nint RowStride(nint lda); static abstract nint StepStride(nint lda); }
/// <summary>A row-major: a row's values along k are adjacent.</summary>
internal struct RowsOfA : IALayout { public static nint RowStride(nint lda) => lda; public static nint StepStride(nint lda) => 1; }
/// <summary>A stored k x 8 (Aᵀ row-major): a step's 8 values are adjacent.</summary>
internal struct ColumnsOfA : IALayout { public static nint RowStride(nint lda) => 1; public static nint StepStride(nint lda) => lda; }

/// <summary>
/// Columns [From, To) of A that a product treats as zero: it never reads them. Where they do hold zeros
/// and B is finite, skipping their products changes a sum only when the sum is zero, and then only its sign.
/// </summary>
internal readonly record struct ZeroColumns(int From, int To);

internal static unsafe partial class Gemm
{
    public const int MR = 8;   // rows per microkernel
    public const int NR = 48;  // columns per microkernel (3 vectors); narrower at the right edge

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store(float* c, int nv, bool accumulate, Vector512<float> v0, Vector512<float> v1, Vector512<float> v2)
    {
        if (accumulate) { v0 += Vector512.Load(c); if (nv > 1) v1 += Vector512.Load(c + 16); if (nv > 2) v2 += Vector512.Load(c + 32); }
        Vector512.Store(v0, c); if (nv > 1) Vector512.Store(v1, c + 16); if (nv > 2) Vector512.Store(v2, c + 32);
    }

    /// <summary>
    /// C[8 x 16*nv] (+)= A B over k: element (r, kk) of A at a + r*rowStride + kk*stepStride (row-major A:
    /// stepStride 1; A stored k x 8: rowStride 1), B row kk at b + kk*ldb.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Kernel<TW, TA>(nint k, ZeroColumns zero, float* a, nint lda, float* b, nint ldb, float* c, nint ldc, bool accumulate)
        where TW : struct, IWidth where TA : struct, IALayout
    {
        int nv = TW.Vectors; // constant after specialisation: dead accumulators vanish
        nint rowStride = TA.RowStride(lda), step = TA.StepStride(lda);
        Vector512<float> c00 = default, c01 = default, c02 = default, c10 = default, c11 = default, c12 = default, c20 = default, c21 = default, c22 = default, c30 = default, c31 = default, c32 = default, c40 = default, c41 = default, c42 = default, c50 = default, c51 = default, c52 = default, c60 = default, c61 = default, c62 = default, c70 = default, c71 = default, c72 = default;
        float* a0 = a, a1 = a + rowStride, a2 = a + 2 * rowStride, a3 = a + 3 * rowStride, a4 = a + 4 * rowStride, a5 = a + 5 * rowStride, a6 = a + 6 * rowStride, a7 = a + 7 * rowStride;
        // Two runs over k with the same accumulators: up to the zero columns, then after them.
        nint at = 0, end = zero.From * step;
        for (int run = 0; run < 2; run++)
        {
            for (; at < end; at += step)
            {
                var b0 = Vector512.Load(b);
                var b1 = nv > 1 ? Vector512.Load(b + 16) : default;
                var b2 = nv > 2 ? Vector512.Load(b + 32) : default;
                b += ldb;
                var s0 = Vector512.Create(a0[at]);
                c00 = Vector512.FusedMultiplyAdd(s0, b0, c00); if (nv > 1) c01 = Vector512.FusedMultiplyAdd(s0, b1, c01); if (nv > 2) c02 = Vector512.FusedMultiplyAdd(s0, b2, c02);
                var s1 = Vector512.Create(a1[at]);
                c10 = Vector512.FusedMultiplyAdd(s1, b0, c10); if (nv > 1) c11 = Vector512.FusedMultiplyAdd(s1, b1, c11); if (nv > 2) c12 = Vector512.FusedMultiplyAdd(s1, b2, c12);
                var s2 = Vector512.Create(a2[at]);
                c20 = Vector512.FusedMultiplyAdd(s2, b0, c20); if (nv > 1) c21 = Vector512.FusedMultiplyAdd(s2, b1, c21); if (nv > 2) c22 = Vector512.FusedMultiplyAdd(s2, b2, c22);
                var s3 = Vector512.Create(a3[at]);
                c30 = Vector512.FusedMultiplyAdd(s3, b0, c30); if (nv > 1) c31 = Vector512.FusedMultiplyAdd(s3, b1, c31); if (nv > 2) c32 = Vector512.FusedMultiplyAdd(s3, b2, c32);
                var s4 = Vector512.Create(a4[at]);
                c40 = Vector512.FusedMultiplyAdd(s4, b0, c40); if (nv > 1) c41 = Vector512.FusedMultiplyAdd(s4, b1, c41); if (nv > 2) c42 = Vector512.FusedMultiplyAdd(s4, b2, c42);
                var s5 = Vector512.Create(a5[at]);
                c50 = Vector512.FusedMultiplyAdd(s5, b0, c50); if (nv > 1) c51 = Vector512.FusedMultiplyAdd(s5, b1, c51); if (nv > 2) c52 = Vector512.FusedMultiplyAdd(s5, b2, c52);
                var s6 = Vector512.Create(a6[at]);
                c60 = Vector512.FusedMultiplyAdd(s6, b0, c60); if (nv > 1) c61 = Vector512.FusedMultiplyAdd(s6, b1, c61); if (nv > 2) c62 = Vector512.FusedMultiplyAdd(s6, b2, c62);
                var s7 = Vector512.Create(a7[at]);
                c70 = Vector512.FusedMultiplyAdd(s7, b0, c70); if (nv > 1) c71 = Vector512.FusedMultiplyAdd(s7, b1, c71); if (nv > 2) c72 = Vector512.FusedMultiplyAdd(s7, b2, c72);
            }
            at = zero.To * step;
            end = k * step;
            b += (zero.To - zero.From) * ldb;
        }
        Store(c + 0 * ldc, nv, accumulate, c00, c01, c02);
        Store(c + 1 * ldc, nv, accumulate, c10, c11, c12);
        Store(c + 2 * ldc, nv, accumulate, c20, c21, c22);
        Store(c + 3 * ldc, nv, accumulate, c30, c31, c32);
        Store(c + 4 * ldc, nv, accumulate, c40, c41, c42);
        Store(c + 5 * ldc, nv, accumulate, c50, c51, c52);
        Store(c + 6 * ldc, nv, accumulate, c60, c61, c62);
        Store(c + 7 * ldc, nv, accumulate, c70, c71, c72);
    }
}
