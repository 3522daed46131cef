using Microsoft.ML;
using Microsoft.ML.Data;

namespace MlNetLstm.Scoring;

/// <summary>
/// Row-at-a-time scoring for <c>PredictionEngine</c> and composed mappers: each output row scores its
/// input row once, when Score or PredictedLabel is first read for that row.
/// </summary>
internal sealed class ScoringRowMapper : IRowToRowMapper
{
    private readonly ScoringColumns columns;
    private readonly BatchScorer scorer;

    public ScoringRowMapper(DataViewSchema inputSchema, DataViewSchema outputSchema, ScoringColumns columns, BatchScorer scorer)
    {
        InputSchema = inputSchema;
        OutputSchema = outputSchema;
        this.columns = columns;
        this.scorer = scorer;
    }

    public DataViewSchema InputSchema { get; }
    public DataViewSchema OutputSchema { get; }

    public IEnumerable<DataViewSchema.Column> GetDependencies(IEnumerable<DataViewSchema.Column> dependingColumns) =>
        columns.InputsFor(InputSchema, columns.ActiveOutputs(OutputSchema, dependingColumns));

    public DataViewRow GetRow(DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns) =>
        new ScoredRow(this, input, columns.ActiveOutputs(OutputSchema, activeColumns));

    private sealed class ScoredRow : DataViewRow
    {
        private readonly ScoringRowMapper mapper;
        private readonly DataViewRow input;
        private readonly bool[] active;
        private readonly ValueGetter<VBuffer<float>>? inputFeatures;
        private VBuffer<float> featureRow;
        private readonly ScoringBatch? batch;
        private long scoredPosition = -1;

        public ScoredRow(ScoringRowMapper mapper, DataViewRow input, bool[] active)
        {
            this.mapper = mapper;
            this.input = input;
            this.active = active;
            var c = mapper.columns;
            if (active[c.ScoreIndex] || active[c.PredictedLabelIndex])
            {
                inputFeatures = input.GetGetter<VBuffer<float>>(input.Schema[c.FeatureIndex]);
                batch = mapper.scorer.CreateBatch(1);
            }
        }

        public override DataViewSchema Schema => mapper.OutputSchema;
        public override long Position => input.Position;
        public override long Batch => input.Batch;
        public override ValueGetter<DataViewRowId> GetIdGetter() => input.GetIdGetter();
        public override bool IsColumnActive(DataViewSchema.Column column) => active[column.Index];

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (!active[column.Index])
                throw new InvalidOperationException($"Column '{column.Name}' was not requested for this row.");
            var c = mapper.columns;
            Delegate getter;
            if (column.Index == c.ScoreIndex)
                getter = (ValueGetter<VBuffer<float>>)GetScore;
            else if (column.Index == c.PredictedLabelIndex)
                getter = (ValueGetter<uint>)GetPredictedLabel;
            else
                return input.GetGetter<TValue>(input.Schema[column.Index]);
            return getter as ValueGetter<TValue> ?? throw new InvalidOperationException(
                $"Column '{column.Name}' holds {column.Type}; it cannot be read as {typeof(TValue).Name}.");
        }

        /// <summary>Scores the input row unless this position was already scored.</summary>
        private void EnsureScored()
        {
            if (scoredPosition == input.Position && input.Position >= 0)
                return;
            inputFeatures!(ref featureRow);
            batch!.Clear();
            batch.Add(featureRow);
            batch.Score();
            scoredPosition = input.Position;
        }

        private void GetScore(ref VBuffer<float> score)
        {
            EnsureScored();
            var editor = VBufferEditor.Create(ref score, mapper.scorer.ClassCount);
            batch!.Probabilities(0).CopyTo(editor.Values);
            score = editor.Commit();
        }

        private void GetPredictedLabel(ref uint key)
        {
            EnsureScored();
            key = batch!.PredictedKey(0);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
                batch?.Dispose();
            base.Dispose(disposing);
        }
    }
}
