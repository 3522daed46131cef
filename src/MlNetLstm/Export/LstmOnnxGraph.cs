using MlNetLstm.Network;
using MlNetLstm.Persistence;
using static TorchSharp.torch;

namespace MlNetLstm.Export;

/// <summary>An ONNX attribute: a name and a long, float, string, long[] or <see cref="Type"/> value.</summary>
internal readonly record struct OnnxAttribute(string Name, object Value);

/// <summary>What the exporter needs from an ONNX graph under construction (ML.NET's context, adapted in MlNetInternals).</summary>
internal interface IOnnxGraph
{
    /// <summary>The variable holding a column of the view being scored.</summary>
    string VariableOf(string column);

    /// <summary>A fresh variable name for an intermediate result.</summary>
    string Temporary(string name);

    /// <summary>The variable that becomes the output column <paramref name="column"/>.</summary>
    string OutputColumn(string column, Microsoft.ML.Data.DataViewType type);

    string Constant(float[] values, long[] dims, string name);

    string Constant(long[] values, long[] dims, string name);

    void Node(string op, string[] inputs, string[] outputs, params OnnxAttribute[] attributes);
}

/// <summary>
/// The classifier as ONNX operators (opset 11 and 12, the most ML.NET writes: Unsqueeze and the reductions
/// take their axes as attributes), scoring exactly as the library does: the
/// layout read as steps, trailing all-NaN steps dropped into each row's <c>sequence_lens</c>, per-channel
/// normalisation, the LSTM layers (PyTorch's gate order i, f, g, o reordered to ONNX's i, o, f, c), the
/// final hidden state through the output layer and softmax. Rows holding a NaN or infinity inside, or no
/// steps, get NaN scores and the missing key 0.
/// </summary>
internal static class LstmOnnxGraph
{
    private static OnnxAttribute A(string name, object value) => new(name, value);

    // ONNX gate block k holds PyTorch's block GateOrder[k].
    private static readonly int[] GateOrder = [0, 3, 1, 2];

    public static void Write(IOnnxGraph graph, LstmModel model, LstmClassifierNetwork network, Microsoft.ML.Data.DataViewType scoreType, Microsoft.ML.Data.DataViewType keyType)
    {
        var input = model.Input;
        var shape = model.Shape;
        int inputSize = shape.InputSize;
        string V(string name) => graph.Temporary("MlNetLstm_" + name);
        string Node(string op, string name, string[] inputs, params OnnxAttribute[] attributes)
        {
            var output = V(name);
            graph.Node(op, inputs, [output], attributes);
            return output;
        }
        string Long(string name, params long[] values) => graph.Constant(values, [values.Length], "MlNetLstm_" + name);
        string Float(string name, float value) => graph.Constant([value], [], "MlNetLstm_" + name);

        // Rows to [rows, steps, channels].
        string features = graph.VariableOf(model.Columns.Features);
        string rowSteps = input.Layout == FeatureLayout.StepMajor
            ? Node("Reshape", "row_steps", [features, Long("step_shape", 0, -1, inputSize)])
            : Node("Transpose", "row_steps", [Node("Reshape", "channels", [features, Long("channel_shape", 0, inputSize, -1)])], A("perm", new long[] { 0, 2, 1 }));
        // One all-NaN step appended: never a real step, and it keeps every reduction below defined when
        // the input has no step at all.
        string steps = Node("Pad", "steps", [rowSteps, Long("pad_one_step", 0, 0, 0, 0, 1, 0), Float("nan_pad", float.NaN)]);

        // Each row's length: its last step holding a value that is not NaN (every step for 0.1.0 models).
        string isNaN = Node("IsNaN", "is_nan", [steps]);
        string one = Float("one", 1f);
        string stepCount = Node("Cast", "step_count", [Node("Gather", "steps_dim", [Node("Shape", "shape", [steps]), graph.Constant([1L], [], "MlNetLstm_axis1")], A("axis", 0L))], A("to", typeof(float)));
        string rowStepCount = Node("Sub", "row_step_count", [stepCount, one]);
        string positions = Node("Range", "positions", [one, Node("Add", "step_limit", [stepCount, one]), one]);
        string lengths;
        if (input.TrailingNaNIsPadding)
        {
            string allNaN = Node("ReduceMin", "all_nan", [Node("Cast", "nan_f", [isNaN], A("to", typeof(float)))], A("axes", new long[] { 2 }), A("keepdims", 0L));
            string real = Node("Sub", "real_step", [one, allNaN]);
            lengths = Node("ReduceMax", "lengths", [Node("Mul", "real_positions", [real, positions])], A("axes", new long[] { 1 }), A("keepdims", 0L));
        }
        else
        {
            lengths = Node("Expand", "lengths", [rowStepCount, Node("Slice", "rows_dim", [Node("Shape", "shape_rows", [steps]), Long("zero", 0), Long("one_i", 1)])]);
        }

        // A row is unusable with a NaN or infinity among its real steps, or with no step.
        string nonFinite = Node("Or", "non_finite", [isNaN, Node("IsInf", "is_inf", [steps])]);
        string nonFiniteStep = Node("ReduceMax", "non_finite_step", [Node("Cast", "non_finite_f", [nonFinite], A("to", typeof(float)))], A("axes", new long[] { 2 }), A("keepdims", 0L));
        string inRow = Node("Cast", "in_row", [Node("Less", "in_row_b", [Node("Sub", "step_index", [positions, one]), Node("Unsqueeze", "lengths_col", [lengths], A("axes", new long[] { 1 }))])], A("to", typeof(float)));
        string badSteps = Node("ReduceMax", "bad_steps", [Node("Mul", "bad_in_row", [nonFiniteStep, inRow])], A("axes", new long[] { 1 }), A("keepdims", 0L));
        string zero = Float("zero_f", 0f);
        string unusable = Node("Or", "unusable", [Node("Greater", "has_bad", [badSteps, zero]), Node("Equal", "no_steps", [lengths, zero])]);

        // Values the LSTM reads: non-finite ones (padding, or rows scored as missing anyway) become 0.
        string clean = Node("Where", "clean", [nonFinite, zero, steps]);
        if (input.Normalization is { } statistics)
        {
            string mean = graph.Constant(statistics.Mean, [inputSize], "MlNetLstm_mean");
            string deviation = graph.Constant(statistics.Deviation, [inputSize], "MlNetLstm_deviation");
            clean = Node("Div", "normalised", [Node("Sub", "centred", [clean, mean]), deviation]);
        }
        string sequenceLengths = Node("Cast", "sequence_lens", [Node("Max", "lengths_at_least_1", [lengths, one])], A("to", typeof(int)));

        // LSTM layers read [steps, rows, inputs].
        string sequence = Node("Transpose", "time_major", [clean], A("perm", new long[] { 1, 0, 2 }));
        var weights = network.state_dict();
        string finalHidden = "";
        for (int layer = 0; layer < shape.NumberOfLayers; layer++)
        {
            var (w, r, b) = LayerWeights(weights, layer, shape);
            string prefix = $"MlNetLstm_l{layer}_";
            bool last = layer == shape.NumberOfLayers - 1;
            // The last layer's sequence of outputs is not needed: an empty name leaves it uncomputed.
            string outputs = last ? "" : V($"l{layer}_y"), hidden = V($"l{layer}_y_h");
            graph.Node("LSTM",
                [sequence, graph.Constant(w.Values, w.Dims, prefix + "W"), graph.Constant(r.Values, r.Dims, prefix + "R"), graph.Constant(b.Values, b.Dims, prefix + "B"), sequenceLengths],
                [outputs, hidden],
                A("hidden_size", (long)shape.HiddenSize), A("direction", shape.Bidirectional ? "bidirectional" : "forward"));
            finalHidden = hidden;
            if (last)
                break;
            // Y is [steps, directions, rows, hidden]: the next layer reads [steps, rows, directions × hidden].
            sequence = Node("Reshape", $"l{layer}_next",
                [Node("Transpose", $"l{layer}_y_t", [outputs], A("perm", new long[] { 0, 2, 1, 3 })), Long($"l{layer}_next_shape", 0, 0, -1)]);
        }

        // Y_h is [directions, rows, hidden]: the forward direction's last step, the backward direction's first.
        string finalState = Node("Reshape", "final_state",
            [Node("Transpose", "y_h_t", [finalHidden], A("perm", new long[] { 1, 0, 2 })), Long("final_state_shape", 0, -1)]);
        var outputWeight = Floats(weights["output.weight"]);
        var outputBias = Floats(weights["output.bias"]);
        string logits = Node("Gemm", "logits",
            [finalState, graph.Constant(outputWeight, [shape.ClassCount, shape.HiddenSize * shape.Directions], "MlNetLstm_output_W"),
             graph.Constant(outputBias, [shape.ClassCount], "MlNetLstm_output_B")],
            A("transB", 1L));
        string probabilities = Node("Softmax", "probabilities", [logits], A("axis", 1L));

        string unusableColumn = Node("Unsqueeze", "unusable_col", [unusable], A("axes", new long[] { 1 }));
        graph.Node("Where", [unusableColumn, Float("nan", float.NaN), probabilities], [graph.OutputColumn(model.Columns.Score, scoreType)]);
        string index = Node("ArgMax", "argmax", [probabilities], A("axis", 1L), A("keepdims", 0L));
        string key = Node("Add", "key_i64", [index, graph.Constant([1L], [], "MlNetLstm_one_i64")]);
        // Chosen in int64 and cast last: ONNX Runtime's Where has no uint32 kernel in many versions.
        string keyOrMissing = Node("Where", "key_or_missing", [unusable, graph.Constant([0L], [], "MlNetLstm_zero_i64"), key]);
        // A scalar column is [rows, 1] in ML.NET's ONNX graphs.
        string keyColumn = Node("Unsqueeze", "key_col", [Node("Cast", "key_u32", [keyOrMissing], A("to", typeof(uint)))], A("axes", new long[] { 1 }));
        graph.Node("Identity", [keyColumn], [graph.OutputColumn(model.Columns.PredictedLabel, keyType)]);
    }

    private sealed record Initializer(float[] Values, long[] Dims);

    /// <summary>One layer's W [directions, 4H, inputs], R [directions, 4H, H] and B [directions, 8H] in ONNX's gate order.</summary>
    private static (Initializer W, Initializer R, Initializer B) LayerWeights(Dictionary<string, Tensor> weights, int layer, NetworkShape shape)
    {
        int hidden = shape.HiddenSize;
        var suffixes = shape.Bidirectional ? new[] { "", "_reverse" } : new[] { "" };
        long inputs = layer == 0 ? shape.InputSize : (long)hidden * shape.Directions;
        var w = new List<float>();
        var r = new List<float>();
        var b = new List<float>();
        foreach (var suffix in suffixes)
        {
            string name = $"layers.{layer}.";
            w.AddRange(Reorder(Floats(weights[name + "weight_ih_l0" + suffix]), hidden * inputs));
            r.AddRange(Reorder(Floats(weights[name + "weight_hh_l0" + suffix]), (long)hidden * hidden));
            b.AddRange(Reorder(Floats(weights[name + "bias_ih_l0" + suffix]), hidden));
            b.AddRange(Reorder(Floats(weights[name + "bias_hh_l0" + suffix]), hidden));
        }
        long d = suffixes.Length;
        return (new([.. w], [d, 4L * hidden, inputs]), new([.. r], [d, 4L * hidden, hidden]), new([.. b], [d, 8L * hidden]));
    }

    /// <summary>The four gate blocks of <paramref name="block"/> values each, in ONNX's order.</summary>
    private static IEnumerable<float> Reorder(float[] values, long block) =>
        GateOrder.SelectMany(g => values.Skip((int)(g * block)).Take((int)block));

    private static float[] Floats(Tensor tensor) => tensor.data<float>().ToArray();
}
