using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;

namespace MlNetLstm.MlNetInternals;

/// <summary>
/// Fails early, with a clear message, when the Microsoft.ML loaded in this process lacks an internal
/// member this folder uses. Without it a different ML.NET whose internals changed would surface as a
/// <see cref="MissingMethodException"/> or <see cref="TypeLoadException"/> deep inside training or
/// model save/load.
/// </summary>
/// <remarks>
/// <para>
/// <see cref="Members"/> lists every internal type and member MlNetInternals/ touches, with its
/// signature (a test checks the list against the member references compiled into MlNetLstm.dll).
/// <see cref="EnsureCompatible()"/> looks them up by reflection once per process and caches the outcome;
/// the entry points into ML.NET internals call it first and keep the internal calls in separate,
/// non-inlined methods, so nothing touching an internal member is JIT-compiled before the check passed.
/// </para>
/// <para>
/// ML.NET's assembly version is always 1.0.0.0, so the version reported is the Microsoft.ML
/// assemblies' <see cref="AssemblyInformationalVersionAttribute"/>.
/// </para>
/// </remarks>
internal static class InternalApiCheck
{
    private const string Core = "Microsoft.ML.Core";
    private const string Data = "Microsoft.ML.Data";

    /// <summary>Every ML.NET internal type and member used in MlNetInternals/, with its signature.</summary>
    internal static IReadOnlyList<InternalMember> Members { get; } =
    [
        // ModelZip.cs: the [assembly: LoadableClass] registration and the loader's signature,
        // Create(IHostEnvironment, ModelLoadContext).
        InternalMember.Constructor(Core, "Microsoft.ML.LoadableClassAttribute",
            "System.Type", "System.Type", "System.Type", "System.Type", "System.String", "System.String[]"),
        InternalMember.Method(Core, "Microsoft.ML.SignatureLoadModel", "Invoke", "System.Void", "Microsoft.ML.ModelLoadContext"),
        // ModelZip.cs: versioned save and load.
        InternalMember.Constructor(Core, "Microsoft.ML.VersionInfo",
            "System.String", "System.UInt32", "System.UInt32", "System.UInt32", "System.String", "System.String", "System.String"),
        InternalMember.Method(Core, "Microsoft.ML.ModelSaveContext", "CheckAtModel", "System.Void"),
        InternalMember.Method(Core, "Microsoft.ML.ModelSaveContext", "SetVersionInfo", "System.Void", "Microsoft.ML.VersionInfo"),
        InternalMember.Method(Core, "Microsoft.ML.ModelSaveContext", "SaveBinaryStream", "System.Void",
            "System.String", "System.Action<System.IO.BinaryWriter>"),
        InternalMember.Method(Core, "Microsoft.ML.ModelLoadContext", "CheckAtModel", "System.Void", "Microsoft.ML.VersionInfo"),
        // ModelZip.cs: the classifier's entry read straight from the zip, with its declared length.
        InternalMember.Field(Core, "Microsoft.ML.ModelLoadContext", "Repository", "Microsoft.ML.RepositoryReader"),
        InternalMember.Field(Core, "Microsoft.ML.ModelLoadContext", "Directory", "System.String"),
        InternalMember.Method(Core, "Microsoft.ML.Repository", "GetPath", "System.Void",
            "System.String&", "System.String&", "System.String", "System.String", "System.Boolean"),
        InternalMember.Field(Core, "Microsoft.ML.RepositoryReader", RepositoryEntriesField,
            "System.Collections.Generic.Dictionary<System.String, System.IO.Compression.ZipArchiveEntry>"),
        // HostChannel.cs: cancellation.
        InternalMember.Method(Core, "Microsoft.ML.Runtime.ICancelable", "get_IsCanceled", "System.Boolean"),
        InternalMember.Method(Data, "Microsoft.ML.MLContext", "CancelExecution", "System.Void"),
        // CatalogEnvironment.cs: the MLContext behind mlContext.Transforms.
        InternalMember.Implements(Data, "Microsoft.ML.TransformsCatalog", "Microsoft.ML.Data.IInternalCatalog"),
        InternalMember.Method(Data, "Microsoft.ML.Data.CatalogUtils", "GetEnvironment", "Microsoft.ML.Runtime.IHostEnvironment",
            "Microsoft.ML.Data.IInternalCatalog"),
        // SchemaShapes.cs: the estimator's output schema.
        InternalMember.Constructor(Core, "Microsoft.ML.SchemaShape+Column",
            "System.String", "Microsoft.ML.SchemaShape+Column+VectorKind", "Microsoft.ML.Data.DataViewType", "System.Boolean",
            "Microsoft.ML.SchemaShape"),
    ];

    private const string Onnx = "Microsoft.ML.Model.OnnxConverter";

    /// <summary>
    /// The interfaces ML.NET's ONNX converter looks for on a transformed view (OnnxExport.cs implements
    /// them). Without them a scored view is plain, and export is ML.NET's to refuse.
    /// </summary>
    internal static IReadOnlyList<InternalMember> OnnxInterfaces { get; } =
    [
        InternalMember.Implements(Data, Onnx + ".ITransformCanSaveOnnx", Onnx + ".ISaveAsOnnx"),
        InternalMember.Implements(Data, Onnx + ".ITransformCanSaveOnnx", "Microsoft.ML.Data.IDataTransform"),
        InternalMember.Method(Data, Onnx + ".ICanSaveOnnx", "CanSaveOnnx", "System.Boolean", Onnx + ".OnnxContext"),
        InternalMember.Method(Data, Onnx + ".ISaveAsOnnx", "SaveAsOnnx", "System.Void", Onnx + ".OnnxContext"),
        InternalMember.Method(Data, "Microsoft.ML.Data.IDataTransform", "get_Source", "Microsoft.ML.IDataView"),
        InternalMember.Method(Core, "Microsoft.ML.ICanSaveModel", "Save", "System.Void", "Microsoft.ML.ModelSaveContext"),
    ];

    /// <summary>
    /// Every ML.NET internal member ONNX export uses (OnnxExport.cs). Checked only when exporting: scoring
    /// never depends on them.
    /// </summary>
    internal static IReadOnlyList<InternalMember> OnnxMembers { get; } =
    [
        .. OnnxInterfaces,
        InternalMember.Method(Data, Onnx + ".OnnxContext", "GetVariableName", "System.String", "System.String"),
        InternalMember.Method(Data, Onnx + ".OnnxContext", "AddIntermediateVariable", "System.String",
            "Microsoft.ML.Data.DataViewType", "System.String", "System.Boolean"),
        InternalMember.Method(Data, Onnx + ".OnnxContext", "AddInitializer", "System.String",
            "System.Collections.Generic.IEnumerable<System.Single>", "System.Collections.Generic.IEnumerable<System.Int64>", "System.String", "System.Boolean"),
        InternalMember.Method(Data, Onnx + ".OnnxContext", "AddInitializer", "System.String",
            "System.Collections.Generic.IEnumerable<System.Int64>", "System.Collections.Generic.IEnumerable<System.Int64>", "System.String", "System.Boolean"),
        InternalMember.Method(Data, Onnx + ".OnnxContext", "AddInitializer", "System.String", "System.Single", "System.String", "System.Boolean"),
        InternalMember.Method(Data, Onnx + ".OnnxContext", "AddInitializer", "System.String", "System.Int64", "System.String", "System.Boolean"),
        InternalMember.Method(Data, Onnx + ".OnnxContext", "CreateNode", Onnx + ".OnnxNode",
            "System.String", "System.Collections.Generic.IEnumerable<System.String>", "System.Collections.Generic.IEnumerable<System.String>", "System.String", "System.String"),
        InternalMember.Method(Data, Onnx + ".OnnxContext", "GetNodeName", "System.String", "System.String"),
        InternalMember.Method(Data, Onnx + ".OnnxContext", "CheckOpSetVersion", "System.Void", "System.Int32", "System.String"),
        InternalMember.Method(Data, Onnx + ".OnnxNode", "AddAttribute", "System.Void", "System.String", "System.Int64"),
        InternalMember.Method(Data, Onnx + ".OnnxNode", "AddAttribute", "System.Void", "System.String", "System.Double"),
        InternalMember.Method(Data, Onnx + ".OnnxNode", "AddAttribute", "System.Void", "System.String", "System.String"),
        InternalMember.Method(Data, Onnx + ".OnnxNode", "AddAttribute", "System.Void", "System.String", "System.Collections.Generic.IEnumerable<System.Int64>"),
        InternalMember.Method(Data, Onnx + ".OnnxNode", "AddAttribute", "System.Void", "System.String", "System.Type"),
    ];

    private static readonly Lazy<bool> OnnxInterfacesFound = new(() => FindProblem(OnnxInterfaces) is null);

    /// <summary>Whether the interfaces ML.NET's ONNX converter looks for exist in the Microsoft.ML loaded here.</summary>
    public static bool OnnxInterfacesExist => OnnxInterfacesFound.Value;

    /// <summary>The private field of ML.NET's zip reader that maps entry paths to zip entries (read by reflection).</summary>
    internal const string RepositoryEntriesField = "_entries";

    // Null once the members were all found; otherwise the message to throw. Computed once per process.
    private static readonly Lazy<string?> Problem = new(() => FindProblem(Members));

    /// <summary>Throws <see cref="NotSupportedException"/> if an internal member in <see cref="Members"/> is missing.</summary>
    public static void EnsureCompatible()
    {
        if (Problem.Value is { } message)
            throw new NotSupportedException(message);
    }

    /// <summary>Checks the given members (not cached): lets a test feed in a member that does not exist.</summary>
    internal static void EnsureCompatible(IReadOnlyList<InternalMember> members)
    {
        if (FindProblem(members) is { } message)
            throw new NotSupportedException(message);
    }

    /// <summary>Null when every member exists with its expected signature; otherwise what is wrong and what to do.</summary>
    /// <param name="members">The members to look for.</param>
    /// <param name="feature">What needs them, named in the message.</param>
    internal static string? FindProblem(IReadOnlyList<InternalMember> members, string feature = "model save/load and training")
    {
        var missing = new List<string>();
        foreach (var member in members)
        {
            if (member.FindMismatch() is { } why)
                missing.Add($"  - {member} ({why})");
        }
        if (missing.Count == 0)
            return null;

        var text = new StringBuilder()
            .Append($"MlNetLstm {VersionOf(typeof(InternalApiCheck).Assembly)} does not support Microsoft.ML {FoundMicrosoftMLVersion()}: ")
            .Append($"ML.NET internal API that MlNetLstm's {feature} uses is missing or has changed:")
            .AppendLine();
        foreach (var line in missing)
            text.AppendLine(line);
        text.Append($"This MlNetLstm was built against Microsoft.ML {Metadata("MlNetLstm.BuiltAgainstMicrosoftML")} and is verified with ")
            .Append($"Microsoft.ML {Metadata("MlNetLstm.VerifiedMicrosoftML")}. Reference one of those versions of Microsoft.ML ")
            .Append("(and Microsoft.ML.DataView), or an MlNetLstm release verified with the version you need.");
        return text.ToString();
    }

    /// <summary>The informational version of the Microsoft.ML assemblies loaded here, e.g. "6.0.0".</summary>
    internal static string FoundMicrosoftMLVersion()
    {
        var versions = new[] { Core, Data }.Select(name =>
        {
            try { return (Name: name, Version: VersionOf(Assembly.Load(new AssemblyName(name)))); }
            catch (Exception e) when (e is FileNotFoundException or FileLoadException or BadImageFormatException)
            { return (Name: name, Version: "(not loadable)"); }
        }).ToList();
        return versions.Select(v => v.Version).Distinct().Count() == 1
            ? versions[0].Version
            : string.Join(", ", versions.Select(v => $"{v.Name} {v.Version}"));
    }

    // "6.0.0+6eff5cc..." -> "6.0.0": the commit suffix is noise in a message.
    private static string VersionOf(Assembly assembly)
    {
        var informational = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        return informational?.Split('+')[0] ?? assembly.GetName().Version?.ToString() ?? "(unknown version)";
    }

    private static string Metadata(string key) =>
        typeof(InternalApiCheck).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == key)?.Value ?? "(unknown)";
}

/// <summary>
/// One ML.NET internal type member the bridge relies on, named as text so that a missing one can be
/// reported instead of failing to load. Types are written with namespaces, <c>+</c> for nested types
/// and <c>&lt;…&gt;</c> for generic arguments, e.g. <c>System.Action&lt;System.IO.BinaryWriter&gt;</c>.
/// </summary>
/// <param name="Assembly">Simple name of the assembly declaring <paramref name="Type"/>.</param>
/// <param name="Type">Full name of the declaring type.</param>
/// <param name="Kind">What must exist on that type.</param>
/// <param name="Name">Method name, or for <see cref="InternalMemberKind.Interface"/> the interface's full name.</param>
/// <param name="Returns">Return type of a method.</param>
/// <param name="Parameters">Parameter types of a method or constructor.</param>
internal sealed record InternalMember(
    string Assembly, string Type, InternalMemberKind Kind, string? Name, string? Returns, IReadOnlyList<string> Parameters)
{
    private const BindingFlags Everything =
        BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    /// <summary>A constructor with these parameter types.</summary>
    public static InternalMember Constructor(string assembly, string type, params string[] parameters) =>
        new(assembly, type, InternalMemberKind.Constructor, ".ctor", null, parameters);

    /// <summary>A method (static or instance; a property getter is <c>get_Name</c>) with this signature.</summary>
    public static InternalMember Method(string assembly, string type, string name, string returns, params string[] parameters) =>
        new(assembly, type, InternalMemberKind.Method, name, returns, parameters);

    /// <summary>A field (of any accessibility) of this type.</summary>
    public static InternalMember Field(string assembly, string type, string name, string fieldType) =>
        new(assembly, type, InternalMemberKind.Field, name, fieldType, []);

    /// <summary><paramref name="type"/> implements the interface <paramref name="interfaceName"/>.</summary>
    public static InternalMember Implements(string assembly, string type, string interfaceName) =>
        new(assembly, type, InternalMemberKind.Interface, interfaceName, null, []);

    /// <summary>Null if the member exists as described; otherwise why not.</summary>
    public string? FindMismatch() => Resolve(out var why) is null ? why : null;

    /// <summary>
    /// The constructor or method described (for <see cref="InternalMemberKind.Interface"/>: the interface),
    /// or null with <paramref name="why"/> saying what is missing.
    /// </summary>
    internal MemberInfo? Resolve(out string? why)
    {
        why = null;
        System.Reflection.Assembly assembly;
        try
        {
            assembly = System.Reflection.Assembly.Load(new AssemblyName(Assembly));
        }
        catch (Exception e) when (e is FileNotFoundException or FileLoadException or BadImageFormatException)
        {
            why = $"assembly {Assembly} could not be loaded: {e.Message.ReplaceLineEndings(" ").Trim()}";
            return null;
        }
        var type = assembly.GetType(Type, throwOnError: false);
        if (type is null)
        {
            why = $"type {Type} not found in {Assembly}";
            return null;
        }
        if (Kind == InternalMemberKind.Field)
        {
            var field = type.GetField(Name!, Everything);
            why = field is null ? $"no field {Name} in {Type}"
                : TypeName(field.FieldType) != Returns ? $"field {Name} is {TypeName(field.FieldType)}" : null;
            return why is null ? field : null;
        }
        if (Kind == InternalMemberKind.Interface)
        {
            var implemented = type.GetInterfaces().FirstOrDefault(i => TypeName(i) == Name);
            why = implemented is null ? $"{Type} does not implement {Name}" : null;
            return implemented;
        }
        var candidates = Kind == InternalMemberKind.Constructor
            ? type.GetConstructors(Everything).Cast<MethodBase>().ToList()
            : type.GetMethods(Everything).Where(m => m.Name == Name).Cast<MethodBase>().ToList();
        var match = candidates.FirstOrDefault(Matches);
        if (match is null)
        {
            why = candidates.Count == 0
                ? $"no {(Kind == InternalMemberKind.Constructor ? "constructor" : "method " + Name)} in {Type}"
                : "signature differs; found " + string.Join(", ", candidates.Select(Signature));
        }
        return match;
    }

    private bool Matches(MethodBase method) =>
        method.GetParameters().Select(p => TypeName(p.ParameterType)).SequenceEqual(Parameters) &&
        (method is not MethodInfo m || TypeName(m.ReturnType) == Returns);

    private static string Signature(MethodBase method) =>
        $"{method.Name}({string.Join(", ", method.GetParameters().Select(p => TypeName(p.ParameterType)))})" +
        (method is MethodInfo m ? " : " + TypeName(m.ReturnType) : "");

    /// <summary>The name <see cref="InternalMember"/> uses for a type: namespace, '+' for nesting, &lt;…&gt; for generics.</summary>
    internal static string TypeName(Type type)
    {
        if (type.IsByRef)
            return TypeName(type.GetElementType()!) + "&";
        if (type.IsArray)
            return TypeName(type.GetElementType()!) + "[" + new string(',', type.GetArrayRank() - 1) + "]";
        if (type.IsGenericParameter)
            return type.Name;
        if (type.IsGenericType)
        {
            var definition = Regex.Replace(type.GetGenericTypeDefinition().FullName!, "`[0-9]+", "");
            return $"{definition}<{string.Join(", ", type.GetGenericArguments().Select(TypeName))}>";
        }
        return type.FullName ?? type.Name;
    }

    /// <summary>E.g. <c>Microsoft.ML.Core: Microsoft.ML.ModelLoadContext.CheckAtModel(Microsoft.ML.VersionInfo) : System.Void</c>.</summary>
    public override string ToString() => Kind switch
    {
        InternalMemberKind.Interface => $"{Assembly}: {Type} implements {Name}",
        InternalMemberKind.Constructor => $"{Assembly}: {Type}({string.Join(", ", Parameters)})",
        InternalMemberKind.Field => $"{Assembly}: {Type}.{Name} : {Returns}",
        _ => $"{Assembly}: {Type}.{Name}({string.Join(", ", Parameters)}) : {Returns}",
    };
}

/// <summary>What <see cref="InternalMember"/> requires to exist.</summary>
internal enum InternalMemberKind
{
    /// <summary>A constructor with the given parameter types.</summary>
    Constructor,

    /// <summary>A method with the given name, parameter types and return type.</summary>
    Method,

    /// <summary>The type implements the named interface.</summary>
    Interface,

    /// <summary>A field with the given name and type.</summary>
    Field,
}
