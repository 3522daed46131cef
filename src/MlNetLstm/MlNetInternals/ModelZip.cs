using System.Runtime.CompilerServices;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using MlNetLstm;
using MlNetLstm.MlNetInternals;
using MlNetLstm.Persistence;

[assembly: LoadableClass(typeof(LstmClassifierTransformer), typeof(ModelZip), null, typeof(SignatureLoadModel),
    "LSTM Classifier", ModelZip.LoaderSignature)]

namespace MlNetLstm.MlNetInternals;

/// <summary>
/// Saves the classifier into ML.NET's model zip and registers how to load it, so a plain
/// <c>mlContext.Model.Load</c> in any process restores it without a registration call.
/// </summary>
internal static class ModelZip
{
    public const string LoaderSignature = "MlNetLstmClassifier";
    private const string ModelSignature = "MNLSTMCL";
    private const string ModelEntry = "LstmClassifier.bin";

    // Version history:
    // 0x00010001: initial; one binary entry in LstmModelFormat.
    private static VersionInfo GetVersionInfo() => new(
        modelSignature: ModelSignature,
        verWrittenCur: 0x00010001,
        verReadableCur: 0x00010001,
        verWeCanReadBack: 0x00010001,
        loaderAssemblyName: typeof(ModelZip).Assembly.FullName,
        loaderSignature: LoaderSignature);

    public static void Save(ModelSaveContext ctx, LstmModel model)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        InternalApiCheck.EnsureCompatible();
        SaveChecked(ctx, model);
    }

    // Not inlined: JIT-compiled (and its internal references resolved) only after the check passed.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void SaveChecked(ModelSaveContext ctx, LstmModel model)
    {
        ctx.CheckAtModel();
        ctx.SetVersionInfo(GetVersionInfo());
        ctx.SaveBinaryStream(ModelEntry, writer => LstmModelFormat.Write(writer.BaseStream, model));
    }

    // Found by ML.NET's component catalog through the LoadableClass attribute above.
    private static LstmClassifierTransformer Create(IHostEnvironment env, ModelLoadContext ctx)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(ctx);
        InternalApiCheck.EnsureCompatible();
        return CreateChecked(env, ctx);
    }

    // Not inlined, like SaveChecked. Not named Create: ML.NET looks the loader up by that name.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static LstmClassifierTransformer CreateChecked(IHostEnvironment env, ModelLoadContext ctx)
    {
        ctx.CheckAtModel(GetVersionInfo());
        LstmModel? model = null;
        if (!ctx.TryLoadBinaryStream(ModelEntry, reader => model = LstmModelFormat.Read(reader.BaseStream)))
            throw new InvalidDataException($"The model file has no '{ModelEntry}' entry for the LSTM classifier.");
        return new LstmClassifierTransformer(env, model!);
    }
}
