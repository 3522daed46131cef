using MlNetLstm.Sequences;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MlNetLstm.Network;

/// <summary>
/// Runs stacked LSTM layers over a batch of sequences and maps each sequence's final hidden state to
/// class logits with one linear layer. Sequences of different lengths are packed, so padding never
/// reaches a score: the forward direction's state is each row's own last step, the backward direction's
/// is its state after reading the whole row.
/// </summary>
/// <remarks>
/// Layers are separate single-layer LSTMs so dropout between them can draw from our own seeded
/// generator instead of libtorch's process-wide one. Field names are state-dict keys: keep them stable
/// (<see cref="NetworkShape.Weights"/> lists them).
/// </remarks>
internal sealed class LstmClassifierNetwork : nn.Module<SequenceBatch, Tensor>
{
    private readonly ModuleList<LSTM> layers;
    private readonly Linear output;
    private readonly double dropout;

    public NetworkShape Shape { get; }

    /// <summary>
    /// Where dropout masks come from while training; set by the training loop for as long as it owns the
    /// generator, null otherwise (then libtorch's global generator is used).
    /// </summary>
    public Generator? DropoutGenerator { get; set; }

    public LstmClassifierNetwork(NetworkShape shape, double dropout = 0)
        : base(nameof(LstmClassifierNetwork))
    {
        Shape = shape;
        this.dropout = dropout;
        layers = new ModuleList<LSTM>();
        for (int i = 0; i < shape.NumberOfLayers; i++)
        {
            int layerInput = i == 0 ? shape.InputSize : shape.HiddenSize * shape.Directions;
            layers.Add(nn.LSTM(layerInput, shape.HiddenSize, batchFirst: true, bidirectional: shape.Bidirectional));
        }
        output = nn.Linear(shape.HiddenSize * shape.Directions, shape.ClassCount);
        RegisterComponents();
        // The weights belong to this network alone: were they registered in a dispose scope the caller
        // happens to have open, ending that scope would free them under the model.
        foreach (var parameter in parameters())
            parameter.DetachFromDisposeScope();
        foreach (var buffer in buffers())
            buffer.DetachFromDisposeScope();
    }

    /// <summary>Logits [rows, ClassCount] for a batch of sequences.</summary>
    public override Tensor forward(SequenceBatch batch)
    {
        Tensor finalHidden;
        if (batch.Lengths is null)
        {
            var sequence = batch.Values;
            finalHidden = null!;
            foreach (var layer in layers)
            {
                var (outputs, hidden, _) = layer.call(sequence);
                sequence = Dropout(outputs);
                finalHidden = hidden;
            }
        }
        else
        {
            finalHidden = PackedFinalHidden(batch);
        }
        // hidden is [directions, rows, hidden]: the forward direction's last step and, when
        // bidirectional, the backward direction's last step (which has read the whole sequence).
        var last = finalHidden.permute(1, 0, 2).reshape(-1, Shape.HiddenSize * Shape.Directions);
        return output.call(Dropout(last));
    }

    private Tensor PackedFinalHidden(SequenceBatch batch)
    {
        var lengths = tensor(batch.Lengths!);
        var packed = nn.utils.rnn.pack_padded_sequence(batch.Values, lengths, batch_first: true, enforce_sorted: false);
        Tensor finalHidden = null!;
        for (int i = 0; i < layers.Count; i++)
        {
            var (outputs, hidden, _) = layers[i].call(packed);
            finalHidden = hidden;
            if (i == layers.Count - 1)
                break;
            if (IsDropoutActive)
            {
                // A packed sequence cannot be rebuilt from new data: pad, drop out, pack again.
                var (padded, _) = nn.utils.rnn.pad_packed_sequence(outputs, batch_first: true);
                outputs = nn.utils.rnn.pack_padded_sequence(Dropout(padded), lengths, batch_first: true, enforce_sorted: false);
            }
            packed = outputs;
        }
        return finalHidden;
    }

    private bool IsDropoutActive => training && dropout > 0;

    private Tensor Dropout(Tensor x)
    {
        if (!IsDropoutActive)
            return x;
        var keep = rand(x.shape, generator: DropoutGenerator).ge_(dropout);
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
