// GEMM drivers for the shapes the LSTM kernel needs. Not a general BLAS: M must be a multiple of 8
// and N a multiple of 16.
using System.Runtime.CompilerServices;

namespace MlNetLstm.Network.Fused;

internal static unsafe partial class Gemm
{
    /// <summary><paramref name="rows"/> rounded up to the microkernels' blocks of <see cref="MR"/> rows.</summary>
    public static int RowsPadded(int rows) => (rows + MR - 1) / MR * MR;

    /// <summary>
    /// Packs B (k x n, row-major with row stride rowStride) into column panels of width NR (the last one
    /// narrower): the panel starting at column j0 occupies k*width floats at dst + j0*k, row-major, so
    /// the microkernel reads it contiguously.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackPanels(float* src, nint rowStride, int k, int n, float* dst)
    {
        for (int j0 = 0; j0 < n; j0 += NR)
        {
            int w = Math.Min(NR, n - j0);
            float* p = dst + (nint)j0 * k;
            for (int kk = 0; kk < k; kk++, p += w)
                new ReadOnlySpan<float>(src + kk * rowStride + j0, w).CopyTo(new Span<float>(p, w));
        }
    }

    /// <summary>
    /// destination[c * destinationStride + r] = source[r * sourceStride + c] for r &lt; rows, c &lt; columns.
    /// Sixteen source rows at a time, whose lines stay in L1 while the destination is written in order.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Transpose(float* source, int rows, int columns, nint sourceStride, float* destination, nint destinationStride)
    {
        for (int r0 = 0; r0 < rows; r0 += 16)
        {
            int block = Math.Min(16, rows - r0);
            for (int c = 0; c < columns; c++)
            {
                float* from = source + r0 * sourceStride + c;
                float* to = destination + c * destinationStride + r0;
                for (int r = 0; r < block; r++)
                    to[r] = from[r * sourceStride];
            }
        }
    }

    /// <summary>C[m x n] (+)= A[m x k] B, A row-major (row stride lda), B packed by <see cref="PackPanels"/>.</summary>
    public static void MulRowA(int m, int n, int k, float* a, nint lda, float* bPacked, float* c, nint ldc, bool accumulate) =>
        MulRowA(m, n, k, a, lda, bPacked, c, ldc, accumulate, new ZeroColumns(k, k));

    /// <summary>
    /// <see cref="MulRowA(int, int, int, float*, nint, float*, float*, nint, bool)"/> with A's columns
    /// <paramref name="zero"/> taken as zero in every row: they are not read, their products are skipped,
    /// and each sum still runs over the other columns in order.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void MulRowA(int m, int n, int k, float* a, nint lda, float* bPacked, float* c, nint ldc, bool accumulate, ZeroColumns zero)
    {
        // Panel outer, row blocks inner: the B panel (k x 48 floats, 30 KB for k = 160) stays in L1.
        for (int j0 = 0; j0 < n; j0 += NR)
        {
            int w = Math.Min(NR, n - j0);
            float* bp = bPacked + (nint)j0 * k;
            for (int i0 = 0; i0 < m; i0 += MR)
                Tile<RowsOfA>(w, k, zero, a + i0 * lda, lda, bp, w, c + i0 * ldc + j0, ldc, accumulate);
        }
    }

    /// <summary>
    /// C[m x n] += A^T B over k, A stored [k x m] (row stride lda), B stored [k x n] (row stride ldb),
    /// neither packed (repacking A and/or B into contiguous strips measured no faster). K is blocked
    /// (64..128) so that the B block stays in L1/L2 while the A columns stream.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void MulColA(int m, int n, int k, float* a, nint lda, float* b, nint ldb, float* c, nint ldc, int kBlock)
    {
        for (int k0 = 0; k0 < k; k0 += kBlock)
        {
            int kb = Math.Min(kBlock, k - k0);
            for (int i0 = 0; i0 < m; i0 += MR)
            {
                float* ap = a + k0 * lda + i0;
                for (int j0 = 0; j0 < n; j0 += NR)
                {
                    int w = Math.Min(NR, n - j0);
                    Tile<ColumnsOfA>(w, kb, new ZeroColumns(kb, kb), ap, lda, b + k0 * ldb + j0, ldb, c + i0 * ldc + j0, ldc, true);
                }
            }
        }
    }

    /// <summary>One 8-row tile of C, <paramref name="width"/> columns wide (48, 32 or 16), by the microkernel of that width.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Tile<TA>(int width, nint k, ZeroColumns zero, float* a, nint lda, float* b, nint ldb, float* c, nint ldc, bool accumulate)
        where TA : struct, IALayout
    {
        switch (width)
        {
            case 48: Kernel<W3, TA>(k, zero, a, lda, b, ldb, c, ldc, accumulate); break;
            case 32: Kernel<W2, TA>(k, zero, a, lda, b, ldb, c, ldc, accumulate); break;
            default: Kernel<W1, TA>(k, zero, a, lda, b, ldb, c, ldc, accumulate); break;
        }
    }
}
