using System.Runtime.CompilerServices;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Model.OnnxConverter;
using MlNetLstm.Export;
using MlNetLstm.Scoring;

namespace MlNetLstm.MlNetInternals;

/// <summary>
/// ONNX export through ML.NET's own <c>mlContext.Model.ConvertToOnnx</c>: the converter walks back from the
/// transformed view through <c>IDataTransform.Source</c> while each view can save itself as ONNX, so the
/// classifier's scored view implements that (internal) interface. Export depends on more ML.NET internals
/// than scoring does; when they are missing, scoring still works and only export fails, naming them.
/// </summary>
internal static class OnnxExport
{
    /// <summary>The lowest opset with every operator the graph uses (Range came in opset 11).</summary>
    private const int MinimumOpSet = 11;

    // Null once the export members were all found; otherwise the message to throw. Computed once per process.
    private static readonly Lazy<string?> Problem = new(() => InternalApiCheck.FindProblem(InternalApiCheck.OnnxMembers, "ONNX export"));

    /// <summary>
    /// The scored view, able to export itself when this ML.NET has the interfaces the converter looks for;
    /// a plain scored view otherwise (scoring never depends on export).
    /// </summary>
    public static ScoredDataView ScoredView(IDataView input, DataViewSchema schema, ScoringColumns columns, BatchScorer scorer)
    {
        if (InternalApiCheck.OnnxInterfacesExist)
        {
            try
            {
                return ExportableView(input, schema, columns, scorer);
            }
            catch (TypeLoadException)
            {
                // The interfaces changed shape (a member added): export is lost, scoring must not be.
            }
        }
        return new ScoredDataView(input, schema, columns, scorer);
    }

    // Not inlined: the type implementing ML.NET's internal interfaces loads only once they are known to exist.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static ScoredDataView ExportableView(IDataView input, DataViewSchema schema, ScoringColumns columns, BatchScorer scorer) =>
        new ExportableScoredDataView(input, schema, columns, scorer);

    /// <summary>A scored view that ML.NET's ONNX converter can walk through and ask to write its part of the graph.</summary>
    private sealed class ExportableScoredDataView(IDataView input, DataViewSchema schema, ScoringColumns columns, BatchScorer scorer)
        : ScoredDataView(input, schema, columns, scorer), ITransformCanSaveOnnx
    {
        IDataView IDataTransform.Source => Source;

        void ICanSaveModel.Save(ModelSaveContext ctx) =>
            throw new NotSupportedException("A scored view is not saved on its own: save the LstmClassifierTransformer (mlContext.Model.Save).");

        bool ICanSaveOnnx.CanSaveOnnx(OnnxContext ctx)
        {
            if (Problem.Value is { } message)
                throw new NotSupportedException(message);
            return true;
        }

        void ISaveAsOnnx.SaveAsOnnx(OnnxContext ctx)
        {
            if (Problem.Value is { } message)
                throw new NotSupportedException(message);
            SaveChecked(ctx);
        }

        [MethodImpl(MethodImplOptions.NoInlining)]
        private void SaveChecked(OnnxContext ctx)
        {
            ctx.CheckOpSetVersion(MinimumOpSet, "LstmClassifier");
            var scoreType = Schema[Columns.ScoreIndex].Type;
            var keyType = Schema[Columns.PredictedLabelIndex].Type;
            // Held against Dispose while the weights are read.
            Scorer.WithNetwork(network => LstmOnnxGraph.Write(new ContextGraph(ctx), Scorer.Model, network, scoreType, keyType));
        }
    }

    /// <summary>ML.NET's ONNX context seen as the exporter's <see cref="IOnnxGraph"/>.</summary>
    private sealed class ContextGraph(OnnxContext ctx) : IOnnxGraph
    {
        public string VariableOf(string column) => ctx.GetVariableName(column);

        // Registered without a type: the runtime infers the shapes of intermediate values.
        public string Temporary(string name) => ctx.AddIntermediateVariable(null, name, skip: true);

        public string OutputColumn(string column, DataViewType type) => ctx.AddIntermediateVariable(type, column);

        // ML.NET takes a scalar (no dimensions) through overloads of its own.
        public string Constant(float[] values, long[] dims, string name) =>
            dims.Length == 0 ? ctx.AddInitializer(values.Single(), name) : ctx.AddInitializer(values, dims, name);

        public string Constant(long[] values, long[] dims, string name) =>
            dims.Length == 0 ? ctx.AddInitializer(values.Single(), name) : ctx.AddInitializer(values, dims, name);

        public void Node(string op, string[] inputs, string[] outputs, params OnnxAttribute[] attributes)
        {
            // Standard operators live in the default domain; ML.NET's own default is ai.onnx.ml.
            var node = ctx.CreateNode(op, inputs, outputs, ctx.GetNodeName(op), "");
            foreach (var (name, value) in attributes)
            {
                switch (value)
                {
                    case long number: node.AddAttribute(name, number); break;
                    case float number: node.AddAttribute(name, (double)number); break;
                    case string text: node.AddAttribute(name, text); break;
                    case long[] numbers: node.AddAttribute(name, numbers); break;
                    case Type type: node.AddAttribute(name, type); break;
                    default: throw new ArgumentException($"Unsupported ONNX attribute value {value?.GetType()} for '{name}'.");
                }
            }
        }
    }
}
