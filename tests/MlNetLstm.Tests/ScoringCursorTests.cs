using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetLstm.Scoring;
using TorchSharp;

namespace MlNetLstm.Tests;

/// <summary>
/// A scoring cursor reads its next batch from the input while the batch before is scored; the rows it
/// serves, their order and the errors it reports are those of reading one batch at a time.
/// </summary>
public class ScoringCursorTests
{
    private static readonly MLContext Context = new(seed: 1);
    private LstmClassifierTransformer model = null!;

    [OneTimeSetUp]
    public void Train()
    {
        var keyed = VariableSequences.Keyer(Context).Transform(Context.Data.LoadFromEnumerable(VariableSequences.Make(400, 1)));
        model = Context.Transforms.LstmClassifier(VariableSequences.Options()).Fit(keyed);
    }

    [OneTimeTearDown]
    public void DisposeModel() => model.Dispose();

    private IDataView Scored(IEnumerable<VariableRow> rows) =>
        model.Transform(VariableSequences.Keyer(Context).Transform(Context.Data.LoadFromEnumerable(rows)));

    [TestCase(2)]
    [TestCase(1)]
    public void TheNextBatchIsReadOnlyWhileTheFirstIsScoredOnTheWorkers(int libtorchThreads)
    {
        int pulled = 0;
        IEnumerable<VariableRow> Counted(IEnumerable<VariableRow> rows)
        {
            foreach (var row in rows)
            {
                pulled++;
                yield return row;
            }
        }
        var scored = Scored(Counted(VariableSequences.Make(5_000, 4)));
        int before = torch.get_num_threads();
        bool onWorkers;
        torch.set_num_threads(Math.Min(libtorchThreads, before));
        try
        {
            onWorkers = ScoringWorkers.Parallelism > 1;
            using var cursor = scored.GetRowCursor([scored.Schema["Score"]]);
            Assert.That(cursor.MoveNext());
        }
        finally
        {
            torch.set_num_threads(before);
        }
        if (libtorchThreads > 1 && !onWorkers)
            Assert.Ignore("scoring on the workers needs at least 2 cores, libtorch threads and OpenMP's per-thread setting");
        // On the workers a small first batch is read, then the second while the first is scored; scored
        // inline (one libtorch thread) a whole first batch is done when read, and reading another would
        // only delay its rows.
        Assert.That(pulled, Is.EqualTo(onWorkers ? ScoringCursor.FirstBatchRows + BatchScorer.MaxBatchRows : BatchScorer.MaxBatchRows));
    }

    [Test]
    public void RowsOfManyBatchesScoreAsOneByOne()
    {
        var rows = VariableSequences.Make(3_000, 5);
        var scored = Scored(rows);
        var served = Context.Data.CreateEnumerable<ScoredVariableRow>(scored, reuseRowObject: false).ToList();

        using var engine = Context.Model.CreatePredictionEngine<VariableRow, ScoredVariableRow>(
            VariableSequences.Keyer(Context).Append(model), new PredictionEngineOptions { OwnsTransformer = false });
        Assert.That(served.Select(r => r.Label), Is.EqualTo(rows.Select(r => (uint)Array.IndexOf(SyntheticSequences.Classes, r.Label) + 1)), "pass-through values stay with their rows");
        Assert.That(served.Select(r => ScoreText.Format(r.Score)), Is.EqualTo(rows.Select(r => ScoreText.Format(engine.Predict(r).Score))));
    }

    [Test]
    public void ABadRowIsReportedOnceTheRowsOfTheBatchesBeforeItAreServed()
    {
        var rows = VariableSequences.Make(2_500, 6);
        rows[1_500].Features = new float[5]; // 2 values per step: not a whole number of steps
        var scored = Scored(rows);
        using var cursor = scored.GetRowCursor([scored.Schema["Score"]]);
        int served = 0;
        var error = Assert.Throws<ArgumentOutOfRangeException>(() =>
        {
            while (cursor.MoveNext())
                served++;
        });
        Assert.That(error!.Message, Does.Contain("'Features'").And.Contain("5"));
        // Rows 0–127 and 128–1,151 on the workers (a small first batch), rows 0–1,023 scored inline.
        int before = ScoringWorkers.Parallelism > 1 ? ScoringCursor.FirstBatchRows + BatchScorer.MaxBatchRows : BatchScorer.MaxBatchRows;
        Assert.That(served, Is.EqualTo(before), "the batches read before the bad row's are served whole");
    }

    [Test]
    public void CursorsDisposedWhileTheirNextBatchIsScoredLeaveTheModelUsable()
    {
        var rows = VariableSequences.Make(4_000, 7);
        var scored = Scored(rows);
        string[] All()
        {
            using var cursor = scored.GetRowCursor([scored.Schema["Score"]]);
            var getter = cursor.GetGetter<VBuffer<float>>(scored.Schema["Score"]);
            var all = new List<string>();
            VBuffer<float> score = default;
            while (cursor.MoveNext())
            {
                getter(ref score);
                all.Add(ScoreText.Format(score.DenseValues().ToArray()));
            }
            return [.. all];
        }
        var expected = All();
        for (int i = 0; i < 20; i++)
        {
            using var cursor = scored.GetRowCursor([scored.Schema["Score"]]);
            Assert.That(cursor.MoveNext());
        }
        Assert.That(All(), Is.EqualTo(expected));
    }

    [Test]
    public void AFailureEndsTheCursorRatherThanSkipRows()
    {
        var options = VariableSequences.Options();
        options.TrainingSamples = 64;
        var keyed = VariableSequences.Keyer(Context).Transform(Context.Data.LoadFromEnumerable(VariableSequences.Make(100, 1)));
        var disposable = Context.Transforms.LstmClassifier(options).Fit(keyed);
        var scored = disposable.Transform(VariableSequences.Keyer(Context).Transform(Context.Data.LoadFromEnumerable(VariableSequences.Make(6_000, 8))));
        using var cursor = scored.GetRowCursor([scored.Schema["Score"]]);
        Assert.That(cursor.MoveNext());
        disposable.Dispose(); // while batches are read ahead and scored
        Assert.Throws<ObjectDisposedException>(() =>
        {
            while (cursor.MoveNext())
            {
            }
        });
        Assert.Throws<ObjectDisposedException>(() => cursor.MoveNext(), "the cursor stays failed");
    }

    [Test]
    public void GettersOffARowSayTheCursorIsNotOnARow()
    {
        var scored = Scored(VariableSequences.Make(10, 9));
        using var cursor = scored.GetRowCursor(scored.Schema);
        var id = cursor.GetIdGetter();
        var score = cursor.GetGetter<VBuffer<float>>(scored.Schema["Score"]);
        var label = cursor.GetGetter<uint>(scored.Schema["Label"]);
        DataViewRowId idValue = default;
        VBuffer<float> scoreValue = default;
        uint labelValue = 0;
        Assert.Throws<InvalidOperationException>(() => id(ref idValue), "before the first row");
        Assert.Throws<InvalidOperationException>(() => score(ref scoreValue));
        Assert.Throws<InvalidOperationException>(() => label(ref labelValue));
        while (cursor.MoveNext())
        {
        }
        Assert.Throws<InvalidOperationException>(() => id(ref idValue), "after the last row");
    }

    public sealed class ScoredVariableRow
    {
        public uint Label { get; set; }
        public float[] Score { get; set; } = [];
    }
}
