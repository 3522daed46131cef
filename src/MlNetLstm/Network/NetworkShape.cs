namespace MlNetLstm.Network;

/// <summary>
/// The shape of the network: everything needed to rebuild it before loading weights. The sequence
/// length is not part of it: an LSTM reads sequences of any length.
/// </summary>
internal sealed record NetworkShape(int InputSize, int HiddenSize, int NumberOfLayers, bool Bidirectional, int ClassCount)
{
    public int Directions => Bidirectional ? 2 : 1;

    /// <summary>
    /// Floats a forward pass holds per step of a row: the inputs, and per layer its outputs and the four
    /// gates of each direction — what a pass's memory budget is counted in.
    /// </summary>
    public long ForwardValuesPerStep => InputSize + (long)NumberOfLayers * Directions * HiddenSize * 5;

    /// <summary>
    /// Every weight tensor of <see cref="LstmClassifierNetwork"/> for this shape, by state-dict name, in
    /// state-dict order. The one statement of the network's layout: the network's constructor builds
    /// exactly these (a test compares them), and model files are checked against them.
    /// </summary>
    public IReadOnlyList<WeightTensor> Weights
    {
        get
        {
            var weights = new List<WeightTensor>();
            long gates = 4L * HiddenSize;
            for (int layer = 0; layer < NumberOfLayers; layer++)
            {
                long input = layer == 0 ? InputSize : (long)HiddenSize * Directions;
                // Each layer is a single-layer LSTM module; a bidirectional one lists its reverse weights after the forward ones.
                foreach (var suffix in Bidirectional ? new[] { "", "_reverse" } : new[] { "" })
                {
                    weights.Add(new($"layers.{layer}.weight_ih_l0{suffix}", [gates, input]));
                    weights.Add(new($"layers.{layer}.weight_hh_l0{suffix}", [gates, HiddenSize]));
                    weights.Add(new($"layers.{layer}.bias_ih_l0{suffix}", [gates]));
                    weights.Add(new($"layers.{layer}.bias_hh_l0{suffix}", [gates]));
                }
            }
            weights.Add(new("output.weight", [ClassCount, (long)HiddenSize * Directions]));
            weights.Add(new("output.bias", [ClassCount]));
            return weights;
        }
    }

    /// <summary>
    /// How many weights the network has; saturates instead of overflowing, as a shape read from a damaged
    /// file may be absurd.
    /// </summary>
    public long WeightCount
    {
        get
        {
            try
            {
                return checked(Weights.Sum(w => w.ElementCount));
            }
            catch (OverflowException)
            {
                return long.MaxValue / sizeof(float);
            }
        }
    }

    /// <summary>Limits on a shape read from a file, before anything is allocated for it.</summary>
    public bool IsPlausible =>
        InputSize is > 0 and <= MaxDimension && HiddenSize is > 0 and <= MaxDimension
        && NumberOfLayers is > 0 and <= MaxLayers && ClassCount >= 2;

    public const int MaxDimension = 1 << 20;
    public const int MaxLayers = 1024;

    public override string ToString() =>
        $"(input {InputSize}, hidden {HiddenSize}, {NumberOfLayers} layer(s){(Bidirectional ? ", bidirectional" : "")}, {ClassCount} classes)";
}

/// <summary>One named weight tensor of the network and its dimensions.</summary>
internal sealed record WeightTensor(string Name, long[] Dimensions)
{
    public long ElementCount
    {
        get
        {
            try
            {
                return checked(Dimensions.Aggregate(1L, (product, dimension) => product * dimension));
            }
            catch (OverflowException)
            {
                return long.MaxValue / sizeof(float);
            }
        }
    }

    public override string ToString() => $"{Name} [{string.Join(", ", Dimensions)}]";
}
