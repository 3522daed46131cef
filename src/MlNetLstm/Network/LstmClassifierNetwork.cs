using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MlNetLstm.Network;

/// <summary>The shape of the network: everything needed to rebuild it before loading weights.</summary>
internal sealed record NetworkShape(
    int FeatureLength, int SequenceLength, int HiddenSize, int NumberOfLayers, bool Bidirectional, int ClassCount)
{
    public int InputSize => FeatureLength / SequenceLength;
    public int Directions => Bidirectional ? 2 : 1;

    /// <summary>
    /// How many weights <see cref="LstmClassifierNetwork"/> has for this shape, known before building it;
    /// saturates instead of overflowing, as a shape read from a damaged file may be absurd.
    /// </summary>
    public long WeightCount
    {
        get
        {
            try
            {
                checked
                {
                    // Per layer and direction: input and hidden weights of the four gates, and their two biases.
                    long hidden = HiddenSize, gates = 4 * hidden, total = 0;
                    for (int layer = 0; layer < NumberOfLayers; layer++)
                    {
                        long input = layer == 0 ? InputSize : hidden * Directions;
                        total += Directions * (gates * input + gates * hidden + 2 * gates);
                    }
                    return total + ClassCount * (hidden * Directions + 1);
                }
            }
            catch (OverflowException)
            {
                return long.MaxValue / sizeof(float);
            }
        }
    }
}

/// <summary>
/// Reads a flat feature vector as <c>SequenceLength</c> steps, runs stacked LSTM layers over it and maps
/// the final hidden state to class logits with one linear layer.
/// </summary>
/// <remarks>
/// Layers are separate single-layer LSTMs so dropout between them can draw from our own seeded
/// generator instead of libtorch's process-wide one. Field names are state-dict keys: keep them stable.
/// </remarks>
internal sealed class LstmClassifierNetwork : nn.Module<Tensor, Tensor>
{
    private readonly ModuleList<LSTM> layers;
    private readonly Linear output;
    private readonly double dropout;
    private readonly Generator? dropoutGenerator;

    public NetworkShape Shape { get; }

    public LstmClassifierNetwork(NetworkShape shape, double dropout = 0, Generator? dropoutGenerator = null)
        : base(nameof(LstmClassifierNetwork))
    {
        Shape = shape;
        this.dropout = dropout;
        this.dropoutGenerator = dropoutGenerator;
        layers = new ModuleList<LSTM>();
        for (int i = 0; i < shape.NumberOfLayers; i++)
        {
            int layerInput = i == 0 ? shape.InputSize : shape.HiddenSize * shape.Directions;
            layers.Add(nn.LSTM(layerInput, shape.HiddenSize, batchFirst: true, bidirectional: shape.Bidirectional));
        }
        output = nn.Linear(shape.HiddenSize * shape.Directions, shape.ClassCount);
        RegisterComponents();
    }

    /// <summary>Features [batch, FeatureLength] to logits [batch, ClassCount].</summary>
    public override Tensor forward(Tensor features)
    {
        var sequence = features.view(-1, Shape.SequenceLength, Shape.InputSize);
        Tensor? finalHidden = null;
        foreach (var layer in layers)
        {
            var (outputs, hidden, _) = layer.call(sequence);
            sequence = Dropout(outputs);
            finalHidden = hidden;
        }
        // hidden is [directions, batch, hidden]: the forward direction's last step and, when
        // bidirectional, the backward direction's last step (which has read the whole sequence).
        var last = finalHidden!.permute(1, 0, 2).reshape(-1, Shape.HiddenSize * Shape.Directions);
        return output.call(Dropout(last));
    }

    private Tensor Dropout(Tensor x)
    {
        if (!training || dropout <= 0)
            return x;
        var keep = rand(x.shape, generator: dropoutGenerator).ge_(dropout);
        return x * keep / (1 - dropout);
    }

    /// <summary>
    /// Uniform(±1/√hidden) weights as PyTorch's LSTM default; zero biases except the forget gate, which
    /// starts at <paramref name="forgetBias"/> like TensorFlow's BasicLSTMCell.
    /// </summary>
    public void InitializeWeights(Generator generator, double forgetBias)
    {
        using var noGrad = no_grad();
        double lstmBound = 1.0 / Math.Sqrt(Shape.HiddenSize);
        foreach (var (name, parameter) in layers.named_parameters())
        {
            if (name.Contains("weight"))
            {
                Uniform(parameter, lstmBound, generator);
            }
            else
            {
                parameter.zero_();
                // Gate order in libtorch is input, forget, cell, output; only one of the two biases
                // gets the offset so the sum starts at forgetBias.
                if (name.Contains("bias_ih"))
                    parameter.narrow(0, Shape.HiddenSize, Shape.HiddenSize).fill_(forgetBias);
            }
        }
        double outputBound = 1.0 / Math.Sqrt(Shape.HiddenSize * Shape.Directions);
        Uniform(output.weight!, outputBound, generator);
        Uniform(output.bias!, outputBound, generator);
    }

    // nn.init.uniform_ in TorchSharp 0.107 ignores its generator argument; rand honours it.
    private static void Uniform(Tensor parameter, double bound, Generator generator)
    {
        using var scope = NewDisposeScope();
        parameter.copy_(rand(parameter.shape, generator: generator).mul_(2 * bound).sub_(bound));
    }
}
