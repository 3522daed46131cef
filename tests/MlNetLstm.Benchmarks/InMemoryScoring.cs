using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetLstm.Scoring;

namespace MlNetLstm.Benchmarks;

/// <summary>
/// A data view's rows decoded once into the library's scoring batches. Scoring them again times the
/// scoring alone (no rows read from the view, none served), at the machine's speed of that moment: beside
/// the Transform cursor, it tells the cursor's cost from the machine's slow spells.
/// </summary>
public sealed class InMemoryScoring : IDisposable
{
    private readonly List<ScoringBatch> batches = [];

    public InMemoryScoring(LstmClassifierTransformer model, IDataView data)
    {
        var scorer = model.Scorer;
        var column = data.Schema[scorer.FeatureColumn];
        using var cursor = data.GetRowCursor([column]);
        var features = cursor.GetGetter<VBuffer<float>>(column);
        VBuffer<float> row = default;
        ScoringBatch? batch = null;
        try
        {
            while (cursor.MoveNext())
            {
                if (batch is null || !batch.HasRoom)
                {
                    // The cursor's batches: the same size and memory budget.
                    batch = scorer.CreateBatch(BatchScorer.MaxBatchRows, BatchScorer.ReadAheadBytes / 2);
                    batches.Add(batch);
                }
                features(ref row);
                batch.Add(row);
                Rows++;
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public int Rows { get; }

    /// <summary>Seconds to score every batch; all are handed to the scoring threads at once, as the cursor overlaps them.</summary>
    public double ScoreSeconds() => Statistics.Seconds(() =>
    {
        foreach (var batch in batches)
            batch.StartScoring();
        foreach (var batch in batches)
            batch.FinishScoring();
    });

    public void Dispose()
    {
        foreach (var batch in batches)
            batch.Dispose();
        batches.Clear();
    }
}
