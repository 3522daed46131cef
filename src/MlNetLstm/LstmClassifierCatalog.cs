using Microsoft.ML;
using MlNetLstm.MlNetInternals;

namespace MlNetLstm;

/// <summary>Adds <c>LstmClassifier</c> to <c>mlContext.Transforms</c>.</summary>
public static class LstmClassifierCatalog
{
    /// <summary>
    /// An LSTM classifier: reads <paramref name="featureColumnName"/> (a known-size vector of float) as
    /// <paramref name="sequenceLength"/> steps, and predicts <paramref name="labelColumnName"/> (a key type).
    /// </summary>
    /// <param name="catalog">The transforms catalog, <c>mlContext.Transforms</c>.</param>
    /// <param name="labelColumnName">Label column, a key type (use <c>MapValueToKey</c>).</param>
    /// <param name="featureColumnName">Features column, a known-size vector of float.</param>
    /// <param name="sequenceLength">Time steps the features are cut into (28 for MNIST rows).</param>
    /// <param name="hiddenSize">Hidden units of the LSTM.</param>
    /// <param name="trainingSamples">Samples training consumes (the reference's training_iters).</param>
    /// <param name="batchSize">Rows per training batch.</param>
    /// <param name="learningRate">Adam learning rate.</param>
    /// <remarks>
    /// Output columns: <c>Score</c>, a vector of class probabilities, and <c>PredictedLabel</c>, a key
    /// with the label's values. Use <see cref="LstmClassifier(TransformsCatalog, LstmClassifierOptions)"/>
    /// for every setting.
    /// </remarks>
    public static LstmClassifierEstimator LstmClassifier(
        this TransformsCatalog catalog,
        string labelColumnName = "Label",
        string featureColumnName = "Features",
        int sequenceLength = 28,
        int hiddenSize = 128,
        long trainingSamples = 100_000,
        int batchSize = 128,
        double learningRate = 0.001) =>
        catalog.LstmClassifier(new LstmClassifierOptions
        {
            LabelColumnName = labelColumnName,
            FeatureColumnName = featureColumnName,
            SequenceLength = sequenceLength,
            HiddenSize = hiddenSize,
            TrainingSamples = trainingSamples,
            BatchSize = batchSize,
            LearningRate = learningRate,
        });

    /// <summary>An LSTM classifier configured by <paramref name="options"/>.</summary>
    /// <param name="catalog">The transforms catalog, <c>mlContext.Transforms</c>.</param>
    /// <param name="options">All settings; the object is copied, later changes do not affect the estimator.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range; the message names it.</exception>
    public static LstmClassifierEstimator LstmClassifier(this TransformsCatalog catalog, LstmClassifierOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new LstmClassifierEstimator(CatalogEnvironment.Of(catalog), options);
    }
}
