using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetLstm.TimeSeries;

namespace MlNetLstm.Tests;

public class TsFileTests : TempFolderTest
{
    private static readonly MLContext Context = new(seed: 1);
    private static readonly string ShippedFolder = LocateShippedFolder();

    // ---- the shipped archive files ----

    [TestCase("JapaneseVowels_TRAIN", "JapaneseVowels", 12, 7, 26, 270, "1 2 3 4 5 6 7 8 9")]
    [TestCase("JapaneseVowels_TEST", "JapaneseVowels", 12, 7, 29, 370, "1 2 3 4 5 6 7 8 9")]
    [TestCase("ArrowHead_TRAIN", "ArrowHead", 1, 251, 251, 36, "0 1 2")]
    [TestCase("ArrowHead_TEST", "ArrowHead", 1, 251, 251, 175, "0 1 2")]
    [TestCase("UnitTest_TRAIN", "UnitTest", 1, 24, 24, 20, "1 2")]
    [TestCase("UnitTest_TEST", "Chinatown", 1, 24, 24, 22, "1 2")] // two @problemName lines: the last counts
    public void ShippedFileLoadsWithItsDocumentedShape(
        string name, string problem, int channels, int minLength, int maxLength, int cases, string labels)
    {
        var path = Shipped(name);
        var data = Context.Data.LoadFromTsFile(path, out var info);

        Assert.That(info.Path, Is.EqualTo(path));
        Assert.That(info.ProblemName, Is.EqualTo(problem));
        Assert.That(info.Channels, Is.EqualTo(channels));
        Assert.That((info.MinLength, info.MaxLength), Is.EqualTo((minLength, maxLength)));
        Assert.That(info.EqualLength, Is.EqualTo(minLength == maxLength));
        Assert.That(info.ClassLabels, Is.EqualTo(labels.Split(' ')));
        Assert.That(info.CaseCount, Is.EqualTo(cases));
        Assert.That(info.HasMissingValues, Is.False);

        Assert.That(data.GetRowCount(), Is.EqualTo(cases));
        Assert.That(data.Schema["Label"].Type, Is.EqualTo(TextDataViewType.Instance));
        var featuresType = (VectorDataViewType)data.Schema["Features"].Type;
        Assert.That(featuresType.ItemType, Is.EqualTo(NumberDataViewType.Single));
        Assert.That(featuresType.Size, Is.EqualTo(info.EqualLength ? maxLength * channels : 0));
        var rows = ReadRows(data);
        Assert.That(rows, Has.Count.EqualTo(cases));
        Assert.That(rows.Select(r => r.Label).Distinct().Order(), Is.EqualTo(labels.Split(' ')));
        Assert.That(rows.Select(r => r.Features.Length / channels).Min(), Is.EqualTo(minLength));
        Assert.That(rows.Select(r => r.Features.Length / channels).Max(), Is.EqualTo(maxLength));
        Assert.That(rows, Has.All.Matches<Row>(r => r.Features.Length % channels == 0 && r.Features.All(float.IsFinite)));
    }

    [Test]
    public void ShippedLabelCountsMatchTheFiles()
    {
        // Counted independently from the file text (labels after the last ':').
        var test = ReadRows(Context.Data.LoadFromTsFile(Shipped("JapaneseVowels_TEST")));
        Assert.That(test.GroupBy(r => r.Label).OrderBy(g => g.Key).Select(g => g.Count()),
            Is.EqualTo(new[] { 31, 35, 88, 44, 29, 24, 40, 50, 29 }));
        var arrowHead = ReadRows(Context.Data.LoadFromTsFile(Shipped("ArrowHead_TEST")));
        Assert.That(arrowHead.GroupBy(r => r.Label).OrderBy(g => g.Key).Select(g => g.Count()), Is.EqualTo(new[] { 69, 53, 53 }));
    }

    [Test]
    public void ShippedMultichannelFileIsStepMajor()
    {
        // JapaneseVowels_TEST line 16 starts "1.635533,1.547694,…:0.024848,0.008754,…" (channel 1, then channel 2).
        var first = ReadRows(Context.Data.LoadFromTsFile(Shipped("JapaneseVowels_TEST")))[0];
        Assert.That(first.Label, Is.EqualTo("1"));
        Assert.That(first.Features[0 * 12 + 0], Is.EqualTo(1.635533f));
        Assert.That(first.Features[1 * 12 + 0], Is.EqualTo(1.547694f));
        Assert.That(first.Features[0 * 12 + 1], Is.EqualTo(0.024848f));
        Assert.That(first.Features[1 * 12 + 1], Is.EqualTo(0.008754f));

        var unitTest = ReadRows(Context.Data.LoadFromTsFile(Shipped("UnitTest_TRAIN")))[0];
        Assert.That(unitTest.Features.Take(2), Is.EqualTo(new[] { 573f, 375f }));
    }

    [Test]
    public void JapaneseVowelsTestLoadsWellUnderASecond()
    {
        var path = Shipped("JapaneseVowels_TEST");
        var cold = Stopwatch.StartNew();
        Context.Data.LoadFromTsFile(path);
        cold.Stop();
        var warm = Stopwatch.StartNew();
        Context.Data.LoadFromTsFile(path);
        warm.Stop();
        TestContext.Out.WriteLine($"JapaneseVowels_TEST.ts: first load {cold.ElapsedMilliseconds} ms, second {warm.ElapsedMilliseconds} ms");
        Assert.That(warm.Elapsed, Is.LessThan(TimeSpan.FromMilliseconds(250)));
        Assert.That(cold.Elapsed, Is.LessThan(TimeSpan.FromSeconds(1)));
    }

    // ---- layout, header variants and values ----

    [Test]
    public void FeaturesAreStepMajor()
    {
        // Channel c holds 10·t + c at step t, so step-major order reads 0 1 2 10 11 12 20 21 22 30 31 32.
        var path = Write("layout.ts", "@dimensions 3", "@classLabel true x", "@data", "0,10,20,30:1,11,21,31:2,12,22,32:x");
        var data = Context.Data.LoadFromTsFile(path, out var info);
        Assert.That(info.Channels, Is.EqualTo(3));
        Assert.That(data.Schema["Features"].Type, Is.EqualTo(new VectorDataViewType(NumberDataViewType.Single, 12)));
        var features = ReadRows(data).Single().Features;
        for (int t = 0; t < 4; t++)
            for (int c = 0; c < 3; c++)
                Assert.That(features[t * 3 + c], Is.EqualTo(10f * t + c), $"step {t}, channel {c}");
    }

    [Test]
    public void GzipFilesGiveTheSameRowsWhateverTheirName()
    {
        var plainPath = Shipped("JapaneseVowels_TEST");
        var expected = ReadRows(Context.Data.LoadFromTsFile(plainPath, out var plainInfo));
        foreach (var name in new[] { "jv.ts.gz", "jv-compressed.ts" }) // recognised by its magic bytes, not its extension
        {
            var gzipPath = Path.Combine(Folder, name);
            WriteGzip(gzipPath, File.ReadAllBytes(plainPath));
            var rows = ReadRows(Context.Data.LoadFromTsFile(gzipPath, out var info));
            Assert.That(rows.Select(r => r.Label), Is.EqualTo(expected.Select(r => r.Label)));
            Assert.That(rows.Select(r => r.Features), Is.EqualTo(expected.Select(r => r.Features)));
            Assert.That((info.CaseCount, info.Channels, info.MinLength, info.MaxLength, info.ProblemName),
                Is.EqualTo((plainInfo.CaseCount, plainInfo.Channels, plainInfo.MinLength, plainInfo.MaxLength, plainInfo.ProblemName)));
        }
    }

    [Test]
    public void KeywordsAreReadInAnyCaseAndOrderAndHeadersMayBePartial()
    {
        var mixed = Write("mixed.ts",
            "% a comment", "@Univariate FALSE", "@CLASSLABEL TRUE up down", "@problemname Mixed Case Name",
            "@EqualLength true", "@missing false", "@timestamps FALSE", "@targetlabel false", "@Data", "1,2:3,4:down", "5,6:7,8:up");
        var data = Context.Data.LoadFromTsFile(mixed, out var info);
        Assert.That(info.ProblemName, Is.EqualTo("Mixed Case Name"));
        Assert.That(info.ClassLabels, Is.EqualTo(new[] { "up", "down" }));
        Assert.That(info.Channels, Is.EqualTo(2));
        Assert.That(ReadRows(data).Select(r => r.Label), Is.EqualTo(new[] { "down", "up" }));

        // Only @classLabel and @data; a byte-order mark, CRLF line ends, indentation and blank lines.
        var minimal = Path.Combine(Folder, "minimal.ts");
        File.WriteAllText(minimal, "\r\n  @classLabel true A b  \r\n\r\n@data\r\n 1, 2 ,3 : A \r\n\r\n4:b\r\n", new UTF8Encoding(encoderShouldEmitUTF8Identifier: true));
        var rows = ReadRows(Context.Data.LoadFromTsFile(minimal, out var minimalInfo));
        Assert.That(minimalInfo.ProblemName, Is.Null);
        Assert.That(rows.Select(r => r.Label), Is.EqualTo(new[] { "A", "b" }));
        Assert.That(rows.Select(r => r.Features), Is.EqualTo(new[] { new[] { 1f, 2f, 3f }, new[] { 4f } }));
        Assert.That(Context.Data.LoadFromTsFile(minimal).Schema["Features"].Type is VectorDataViewType { Size: var size } ? size : -1, Is.Zero, "variable size");
    }

    [Test]
    public void CommentsAndBlankLinesAreSkippedAfterData()
    {
        var path = Write("comments.ts", "@classLabel true a", "@data", "# first", "1,2:a", "", "% second", "   ", "3,4:a", "# last");
        Assert.That(ReadRows(Context.Data.LoadFromTsFile(path)).Select(r => r.Features), Is.EqualTo(new[] { new[] { 1f, 2f }, new[] { 3f, 4f } }));
    }

    [Test]
    public void NumbersAreReadInTheInvariantCulture()
    {
        var path = Write("numbers.ts", "@classLabel true a", "@data", "1e-3,-0.5,+1, 2.5 ,1E2,-0,.25,3.4e38:a");
        var saved = Thread.CurrentThread.CurrentCulture;
        try
        {
            Thread.CurrentThread.CurrentCulture = new System.Globalization.CultureInfo("de-DE"); // decimal comma
            var features = ReadRows(Context.Data.LoadFromTsFile(path)).Single().Features;
            Assert.That(features, Is.EqualTo(new[] { 0.001f, -0.5f, 1f, 2.5f, 100f, -0f, 0.25f, 3.4e38f }));
        }
        finally
        {
            Thread.CurrentThread.CurrentCulture = saved;
        }
    }

    [Test]
    public void QuestionMarksAndNaNAreMissingValues()
    {
        var path = Write("missing.ts", "@missing true", "@classLabel true a", "@data", "1,?,NaN,nan, ? ,NAN:a", "1,2,3,4,5,6:a");
        var rows = ReadRows(Context.Data.LoadFromTsFile(path, out var info));
        Assert.That(info.HasMissingValues, Is.True);
        Assert.That(rows[0].Features.Skip(1), Has.All.NaN);
        Assert.That(rows[0].Features[0], Is.EqualTo(1f));
        Assert.That(rows[1].Features, Has.None.NaN);
    }

    [Test]
    public void NaNPaddingToEqualLengthIsKept()
    {
        var path = Write("padded.ts", "@equalLength true", "@seriesLength 4", "@dimensions 2", "@classLabel true a b", "@data",
            "1,2,NaN,NaN:5,6,NaN,NaN:a", "1,2,3,4:5,6,7,8:b");
        var data = Context.Data.LoadFromTsFile(path, out var info);
        Assert.That((info.EqualLength, info.MaxLength, info.HasMissingValues), Is.EqualTo((true, 4, true)));
        Assert.That(data.Schema["Features"].Type is VectorDataViewType { Size: var size } ? size : -1, Is.EqualTo(8));
        var padded = ReadRows(data)[0].Features;
        Assert.That(padded.Take(4), Is.EqualTo(new[] { 1f, 5f, 2f, 6f }));
        Assert.That(padded.Skip(4).ToArray(), Has.Length.EqualTo(4).And.All.NaN);
    }

    [Test]
    public void VariableLengthFilesHaveAVariableSizeFeaturesColumn()
    {
        var path = Write("variable.ts", "@equalLength false", "@seriesLength 9", "@dimensions 2", "@classLabel true a", "@data",
            "1,2:3,4:a", "1,2,3:4,5,6:a", "1:2:a");
        var data = Context.Data.LoadFromTsFile(path, out var info);
        var type = (VectorDataViewType)data.Schema["Features"].Type;
        Assert.That((type.IsKnownSize, type.Size), Is.EqualTo((false, 0)));
        Assert.That((info.EqualLength, info.MinLength, info.MaxLength), Is.EqualTo((false, 1, 3)));
        // One reused buffer, long row then short row: each read has its own length.
        Assert.That(ReadRows(data).Select(r => r.Features.Length), Is.EqualTo(new[] { 4, 6, 2 }));
        Assert.That(data.GetColumn<float[]>("Features").Select(f => f.Length), Is.EqualTo(new[] { 4, 6, 2 }));
    }

    [Test]
    public void AFileWithoutLabelsHasEmptyLabels()
    {
        var path = Write("unlabelled.ts", "@classLabel false", "@data", "1,2:3,4", "5,6:7,8");
        var rows = ReadRows(Context.Data.LoadFromTsFile(path, out var info));
        Assert.That(info.ClassLabels, Is.Empty);
        Assert.That((info.Channels, info.CaseCount), Is.EqualTo((2, 2)));
        Assert.That(rows.Select(r => r.Label), Is.EqualTo(new[] { "", "" }));
        Assert.That(rows[1].Features, Is.EqualTo(new[] { 5f, 7f, 6f, 8f }));
    }

    // ---- cursors ----

    [Test]
    public void GettersRefuseBeforeTheFirstRowAndAfterTheLast()
    {
        var data = Context.Data.LoadFromTsFile(Write("one.ts", "@classLabel true a", "@data", "1,2:a"));
        using var cursor = data.GetRowCursor(data.Schema);
        var label = cursor.GetGetter<ReadOnlyMemory<char>>(data.Schema["Label"]);
        var features = cursor.GetGetter<VBuffer<float>>(data.Schema["Features"]);
        var id = cursor.GetIdGetter();
        ReadOnlyMemory<char> text = default;
        VBuffer<float> values = default;
        DataViewRowId rowId = default;
        Assert.Throws<InvalidOperationException>(() => label(ref text));
        Assert.Throws<InvalidOperationException>(() => features(ref values));
        Assert.Throws<InvalidOperationException>(() => id(ref rowId));
        Assert.That(cursor.MoveNext());
        label(ref text);
        Assert.That(text.ToString(), Is.EqualTo("a"));
        Assert.That(cursor.MoveNext(), Is.False);
        Assert.Throws<InvalidOperationException>(() => label(ref text));
        Assert.Throws<InvalidOperationException>(() => features(ref values));
    }

    [Test]
    public void GettersRefuseColumnsNotRequestedAndWrongTypes()
    {
        var data = Context.Data.LoadFromTsFile(Shipped("UnitTest_TRAIN"));
        using var cursor = data.GetRowCursor([data.Schema["Label"]]);
        Assert.That(cursor.IsColumnActive(data.Schema["Features"]), Is.False);
        Assert.Throws<InvalidOperationException>(() => cursor.GetGetter<VBuffer<float>>(data.Schema["Features"]));
        Assert.Throws<InvalidOperationException>(() => cursor.GetGetter<float>(data.Schema["Label"]));
    }

    [Test]
    public void ShuffledCursorVisitsEveryRowOnceInAnotherOrder()
    {
        var data = Context.Data.LoadFromTsFile(Shipped("JapaneseVowels_TRAIN"));
        Assert.That(data.CanShuffle);
        var inOrder = ReadRows(data);
        Assert.That(inOrder.Select(r => r.Id), Is.EqualTo(Enumerable.Range(0, 270)));

        var shuffled = ReadRows(data, new Random(7));
        Assert.That(shuffled.Select(r => r.Id), Is.EquivalentTo(Enumerable.Range(0, 270)));
        Assert.That(shuffled.Select(r => r.Id), Is.Not.EqualTo(Enumerable.Range(0, 270)));
        Assert.That(shuffled, Has.All.Matches<Row>(r => r.Label == inOrder[r.Id].Label && r.Features.SequenceEqual(inOrder[r.Id].Features)));
        Assert.That(ReadRows(data, new Random(7)).Select(r => r.Id), Is.EqualTo(shuffled.Select(r => r.Id)), "the same seed, the same order");
    }

    [Test]
    public void CursorsAreIndependentAndCallersMayChangeTheirBuffers()
    {
        var data = Context.Data.LoadFromTsFile(Shipped("UnitTest_TEST"));
        var expected = ReadRows(data);
        using var first = data.GetRowCursor(data.Schema);
        using var second = data.GetRowCursor(data.Schema);
        var firstFeatures = first.GetGetter<VBuffer<float>>(data.Schema["Features"]);
        var secondFeatures = second.GetGetter<VBuffer<float>>(data.Schema["Features"]);
        VBuffer<float> buffer = default;
        Assert.That(first.MoveNext() && first.MoveNext() && second.MoveNext());
        firstFeatures(ref buffer);
        Assert.That(buffer.DenseValues(), Is.EqualTo(expected[1].Features));
        secondFeatures(ref buffer);
        Assert.That(buffer.DenseValues(), Is.EqualTo(expected[0].Features));

        var editor = VBufferEditor.CreateFromBuffer(ref buffer);
        editor.Values.Fill(-999f);
        Assert.That(ReadRows(data)[0].Features, Is.EqualTo(expected[0].Features), "the loaded data is not the caller's buffer");
        Assert.That(data.GetRowCursorSet(data.Schema, 4), Has.Length.EqualTo(1));
    }

    [Test]
    public void LabelsMapToKeysWithMapValueToKey()
    {
        var data = Context.Data.LoadFromTsFile(Shipped("JapaneseVowels_TRAIN"));
        var keyed = Context.Transforms.Conversion.MapValueToKey("Label").Fit(data).Transform(data);
        var keyType = (KeyDataViewType)keyed.Schema["Label"].Type;
        Assert.That(keyType.Count, Is.EqualTo(9));
        VBuffer<ReadOnlyMemory<char>> keyValues = default;
        keyed.Schema["Label"].GetKeyValues(ref keyValues);
        var names = keyValues.DenseValues().Select(v => v.ToString()).ToArray();
        var keys = keyed.GetColumn<uint>("Label").ToArray();
        var labels = ReadRows(data).Select(r => r.Label).ToArray();
        Assert.That(keys, Has.Length.EqualTo(270).And.All.InRange(1u, 9u));
        Assert.That(keys.Select(k => names[k - 1]), Is.EqualTo(labels));
        Assert.That(keyed.GetColumn<float[]>("Features").First(), Has.Length.EqualTo(20 * 12));
    }

    // ---- errors ----

    private static IEnumerable<TestCaseData> FormatErrors()
    {
        // Lines 1–6 of a small valid header, then the cases from line 7.
        string[] header = ["# comment", "% another comment", "", "@problemName Tiny", "@classLabel true a b", "@data"];
        string[] With(params string[] cases) => [.. header, .. cases];
        var errors = new (string Name, string[] Lines, int Line, string Expected)[]
        {
            ("UndeclaredLabel", With("1,2:a", "", "3,4:c"), 9, "class label 'c' is not declared by '@classLabel' on line 5 ('a' 'b')"),
            ("LabelsAreCaseSensitive", With("1,2:A"), 7, "class label 'A' is not declared"),
            ("ChannelsOfDifferentLengths", ["@classLabel true a", "@data", "1,2,3:4,5:a"], 3, "channel 2 has 2 values but channel 1 has 3"),
            ("ChannelsContradictDimensions", ["@dimensions 2", "@classLabel true a", "@data", "1,2:3,4:a", "1,2:a"], 5,
                "the case has 1 channel(s); expected 2, from '@dimensions' on line 1"),
            ("ChannelsContradictTheFirstCase", ["@classLabel true a", "@data", "1:2:a", "# c", "1:2:3:a"], 5,
                "the case has 3 channel(s); expected 2, from the first case (line 3)"),
            ("ChannelsContradictUnivariate", ["@univariate true", "@classLabel true a", "@data", "1,2:3,4:a"], 4,
                "expected 1, from '@univariate true' on line 1"),
            ("NotANumber", With("1,2:a", "1,x2:b"), 8, "value 2 of channel 1, 'x2', is not a number"),
            ("DecimalComma", With("1;5:a"), 7, "'1;5', is not a number"),
            ("Infinity", With("1,Infinity:a"), 7, "'Infinity', is not a finite number"),
            ("BeyondFloat", With("1,-1e39:a"), 7, "'-1e39', is not a finite number"),
            ("NoLabel", With("1,2,3"), 7, "the case has no class label"),
            ("EmptyLabel", With("1,2,3: "), 7, "the case has no class label"),
            ("NoData", ["# c", "@classLabel true a", ""], 3, "the file ends without an '@data' line"),
            ("EmptyFile", [], 1, "the file is empty"),
            ("DataBeforeDataLine", ["@classLabel true a", "1,2:a"], 2, "'1,2:a' is neither a comment (# or %) nor a header line"),
            ("EmptyChannel", ["@dimensions 2", "@classLabel true a", "@data", "1,2::a"], 4, "channel 2 is empty"),
            ("EmptyCase", With(":a"), 7, "channel 1 is empty"),
            ("EmptyValue", With("1,,2:a"), 7, "value 2 of channel 1 is empty"),
            ("SeriesLengthContradicted", ["@equalLength true", "@seriesLength 3", "@classLabel true a", "@data", "1,2,3:a", "1,2:a"], 6,
                "the case has 2 steps; expected 3, from '@seriesLength' on line 2"),
            ("EqualLengthContradicted", ["@equalLength true", "@classLabel true a", "@data", "1,2,3:a", "1,2:a"], 5,
                "the case has 2 steps; expected 3, from the first case (line 4) and '@equalLength true' on line 1"),
            ("NoCases", header, 6, "the file has no cases after '@data' on line 6"),
            ("NoCasesOnlyComments", With("# nothing", ""), 8, "the file has no cases after '@data' on line 6"),
            ("UnknownKeyword", ["@classLabel true a", "@frobnicate yes", "@data", "1:a"], 2, "unknown header keyword '@frobnicate'"),
            ("HeaderAfterData", With("1:a", "@dimensions 1"), 8, "header line '@dimensions 1' after '@data' on line 6"),
            ("NoClassLabelLine", ["@problemName X", "@data", "1:a"], 2, "no '@classLabel' line before '@data'"),
            ("BadFlag", ["@univariate maybe"], 1, "@univariate takes 'true' or 'false', found 'maybe'"),
            ("BadCount", ["@dimensions 0"], 1, "@dimensions takes one whole number of at least 1, found '0'"),
            ("ClassLabelTrueWithoutLabels", ["@classLabel true"], 1, "'@classLabel true' declares no labels"),
            ("ClassLabelFalseWithLabels", ["@classLabel false a"], 1, "'@classLabel false' is followed by labels"),
            ("LabelDeclaredTwice", ["@classLabel true a b a"], 1, "declares label 'a' more than once"),
            ("UnivariateWithDimensions", ["@univariate true", "@dimensions 3", "@classLabel true a", "@data", "1:a"], 2,
                "'@dimensions 3' contradicts '@univariate true' on line 1"),
            ("DataWithAValue", ["@classLabel true a", "@data now"], 2, "'@data' is followed by 'now'"),
            ("ProblemNameWithoutName", ["@problemName "], 1, "@problemName has no name"),
        };
        foreach (var (name, lines, line, expected) in errors)
            foreach (var lineEnd in new[] { "\n", "\r\n" })
                yield return new TestCaseData(lines, lineEnd, line, expected)
                    .SetName($"FormatErrorNamesFileAndLine({name}, {(lineEnd == "\n" ? "LF" : "CRLF")})");
    }

    [TestCaseSource(nameof(FormatErrors))]
    public void FormatErrorNamesFileAndLine(string[] lines, string lineEnd, int line, string expected)
    {
        var path = Path.Combine(Folder, "bad.ts");
        File.WriteAllText(path, string.Concat(lines.Select(l => l + lineEnd)));
        var e = Assert.Throws<InvalidDataException>(() => Context.Data.LoadFromTsFile(path));
        Assert.That(e!.Message, Does.StartWith($"'{path}' line {line}: ").And.Contain(expected));
    }

    [TestCase("@targetLabel true", "regression files (@targetLabel true) are not read")]
    [TestCase("@timeStamps true", "files with time stamps (@timeStamps true) are not read")]
    public void RegressionAndTimeStampedFilesAreNotSupported(string headerLine, string expected)
    {
        var path = Write("unsupported.ts", "@problemName X", headerLine, "@data", "1,2:0.5");
        var e = Assert.Throws<NotSupportedException>(() => Context.Data.LoadFromTsFile(path));
        Assert.That(e!.Message, Does.Contain($"'{path}' line 2: ").And.Contain(expected).And.Contain("classification files"));
    }

    [Test]
    public void MissingFileIsNamed()
    {
        var path = Path.Combine(Folder, "absent.ts");
        var e = Assert.Throws<FileNotFoundException>(() => Context.Data.LoadFromTsFile(path));
        Assert.That((e!.FileName, e.Message), Is.EqualTo((path, $"UCR/UEA .ts file '{path}' does not exist.")));
    }

    [TestCase("corrupted", "its gzip data is damaged")]
    [TestCase("truncated in the data", "the file is truncated")]
    [TestCase("truncated in the trailer", "the file is truncated")]
    [TestCase("just the magic bytes", "too short for gzip data")]
    public void DamagedGzipIsRefusedNamingTheFile(string damage, string expected)
    {
        var path = Path.Combine(Folder, "damaged.ts.gz");
        WriteGzip(path, File.ReadAllBytes(Shipped("ArrowHead_TRAIN")));
        var bytes = File.ReadAllBytes(path);
        bytes = damage switch
        {
            "corrupted" => Flip(bytes, 20),
            "truncated in the data" => bytes[..(bytes.Length / 2)],
            "truncated in the trailer" => bytes[..^3],
            _ => bytes[..2],
        };
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<InvalidDataException>(() => Context.Data.LoadFromTsFile(path));
        Assert.That(e!.Message, Does.StartWith($"'{path}' is not a readable .ts file: ").And.Contain(expected));
    }

    [Test]
    public void LinesLongerThanTheLimitAreRefusedWithTheirNumber()
    {
        const int limit = 100;
        var fits = "1" + string.Concat(Enumerable.Repeat(",1", (limit - 3) / 2)) + ":a"; // 99 characters
        fits += new string(' ', limit - fits.Length);
        Assert.That(fits, Has.Length.EqualTo(limit));
        var fitting = Write("fits.ts", "@classLabel true a", "@data", fits, fits);
        File.WriteAllText(fitting, File.ReadAllText(fitting).Replace("\n", "\r\n")); // a \r beyond the limit is still a line end
        Assert.That(TsFile.Read(fitting, limit).Info.CaseCount, Is.EqualTo(2));

        var tooLong = Write("too-long.ts", "@classLabel true a", "@data", fits, fits + " ", fits);
        var e = Assert.Throws<InvalidDataException>(() => TsFile.Read(tooLong, limit));
        Assert.That(e!.Message, Does.StartWith($"'{tooLong}' line 4: the line is longer than 100 characters"));

        var noLineEnd = Path.Combine(Folder, "no-line-end.ts");
        File.WriteAllText(noLineEnd, new string('1', 10 * limit));
        e = Assert.Throws<InvalidDataException>(() => TsFile.Read(noLineEnd, limit));
        Assert.That(e!.Message, Does.StartWith($"'{noLineEnd}' line 1: the line is longer than 100 characters"));
    }

    [Test]
    public void ASmallLineBufferReadsTheSameRows()
    {
        // The longest line of the file is 3,293 characters: the reader's buffer starts just above that and
        // must move the unread text to its front over and over.
        var path = Shipped("JapaneseVowels_TEST");
        var small = TsFile.Read(path, maxLineLength: 3_293);
        var normal = TsFile.Read(path);
        Assert.That(small.Features, Is.EqualTo(normal.Features));
        Assert.That(small.LabelIndices, Is.EqualTo(normal.LabelIndices));
        Assert.Throws<InvalidDataException>(() => TsFile.Read(path, maxLineLength: 3_292));
    }

    private const string FormatCharacters = "0123456789,:.-+?@#%eENa \n\r";

    [Test]
    public void DamagedFilesLoadOrFailCleanly()
    {
        // Seeded random damage (bytes changed, removed or repeated, lines cut): every outcome is a
        // loaded file or one of the documented exceptions, never another exception or a hang.
        var original = File.ReadAllBytes(Shipped("UnitTest_TRAIN"));
        var random = new Random(2024);
        var outcomes = new Dictionary<string, int>();
        var path = Path.Combine(Folder, "fuzz.ts");
        for (int i = 0; i < 300; i++)
        {
            var bytes = original.ToList(); // text damage
            for (int edits = random.Next(1, 4); edits > 0; edits--)
            {
                int at = random.Next(bytes.Count);
                switch (random.Next(4))
                {
                    case 0: bytes[at] = (byte)FormatCharacters[random.Next(FormatCharacters.Length)]; break;
                    case 1: bytes.RemoveRange(at, Math.Min(random.Next(1, 40), bytes.Count - at)); break;
                    case 2: bytes.InsertRange(at, bytes.Skip(at).Take(random.Next(1, 40)).ToList()); break;
                    default: bytes[at] = (byte)random.Next(256); break;
                }
            }
            File.WriteAllBytes(path, bytes.ToArray());
            if (i % 3 == 0) // damage compressed bytes instead
            {
                WriteGzip(path, original);
                var compressed = File.ReadAllBytes(path);
                compressed[random.Next(compressed.Length)] = (byte)random.Next(256);
                File.WriteAllBytes(path, random.Next(2) == 0 ? compressed : compressed[..random.Next(compressed.Length)]);
            }
            string outcome;
            try
            {
                var data = Context.Data.LoadFromTsFile(path, out var info);
                Assert.That(ReadRows(data), Has.Count.EqualTo(info.CaseCount));
                outcome = "loaded";
            }
            catch (Exception e) when (e is InvalidDataException or NotSupportedException)
            {
                Assert.That(e.Message, Does.Contain(path));
                outcome = e.GetType().Name;
            }
            outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
        }
        TestContext.Out.WriteLine(string.Join(", ", outcomes.Select(o => $"{o.Key}: {o.Value}")));
        Assert.That(outcomes.Keys, Does.Contain("loaded").And.Contain(nameof(InvalidDataException)));
    }

    // ---- helpers ----

    private sealed record Row(string Label, float[] Features, int Id);

    private static List<Row> ReadRows(IDataView data, Random? rand = null)
    {
        var rows = new List<Row>();
        using var cursor = data.GetRowCursor(data.Schema, rand);
        var labelGetter = cursor.GetGetter<ReadOnlyMemory<char>>(data.Schema["Label"]);
        var featuresGetter = cursor.GetGetter<VBuffer<float>>(data.Schema["Features"]);
        var idGetter = cursor.GetIdGetter();
        ReadOnlyMemory<char> label = default;
        VBuffer<float> features = default; // reused across rows, as ML.NET's own consumers do
        DataViewRowId id = default;
        while (cursor.MoveNext())
        {
            labelGetter(ref label);
            featuresGetter(ref features);
            idGetter(ref id);
            rows.Add(new Row(label.ToString(), features.DenseValues().ToArray(), (int)id.Low));
        }
        return rows;
    }

    private string Write(string name, params string[] lines)
    {
        var path = Path.Combine(Folder, name);
        File.WriteAllLines(path, lines);
        return path;
    }

    private static void WriteGzip(string path, byte[] content)
    {
        using var file = File.Create(path);
        using var gzip = new GZipStream(file, CompressionLevel.Fastest);
        gzip.Write(content);
    }

    private static byte[] Flip(byte[] bytes, int at)
    {
        var copy = (byte[])bytes.Clone();
        copy[at] ^= 0xff;
        return copy;
    }

    private static string Shipped(string name) => Path.Combine(ShippedFolder, name + ".ts");

    /// <summary>assets/inputs/ucr-uea, found from the test assembly's folder.</summary>
    private static string LocateShippedFolder()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "assets", "inputs", "ucr-uea");
            if (File.Exists(Path.Combine(dir.FullName, "MlNetLstm.sln")) && Directory.Exists(candidate))
                return candidate;
        }
        throw new DirectoryNotFoundException("assets/inputs/ucr-uea was not found above " + AppContext.BaseDirectory);
    }
}
