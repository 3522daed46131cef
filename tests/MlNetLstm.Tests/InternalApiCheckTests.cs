using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;
using MlNetLstm.MlNetInternals;

namespace MlNetLstm.Tests;

public class InternalApiCheckTests
{
    [Test]
    public void EveryInternalMemberExistsInTheMicrosoftMLOfThisBuild()
    {
        Assert.That(InternalApiCheck.FindProblem(InternalApiCheck.Members), Is.Null);
        Assert.That(InternalApiCheck.EnsureCompatible, Throws.Nothing);
        Assert.That(InternalApiCheck.FoundMicrosoftMLVersion(), Is.EqualTo(BuildVersions.MicrosoftML));
    }

    [Test]
    public void AMissingMemberIsNamedWithTheVersionFoundAndTheVersionsVerified()
    {
        var missing = InternalMember.Method("Microsoft.ML.Core", "Microsoft.ML.ModelSaveContext", "SaveEverything",
            "System.Void", "System.String");
        var members = InternalApiCheck.Members.Append(missing).ToList();

        var e = Assert.Throws<NotSupportedException>(() => InternalApiCheck.EnsureCompatible(members))!;

        Assert.That(e.Message, Does.Contain("Microsoft.ML.Core: Microsoft.ML.ModelSaveContext.SaveEverything(System.String) : System.Void"));
        Assert.That(e.Message, Does.Contain("no method SaveEverything in Microsoft.ML.ModelSaveContext"));
        Assert.That(e.Message, Does.Contain($"does not support Microsoft.ML {BuildVersions.MicrosoftML}:"));
        Assert.That(e.Message, Does.Contain($"built against Microsoft.ML {BuildVersions.MicrosoftML}"));
        Assert.That(e.Message, Does.Contain("verified with Microsoft.ML 6.0.0, 5.0.1"));
        Assert.That(e.Message.Split('\n').Count(line => line.TrimStart().StartsWith("- ")), Is.EqualTo(1),
            "only the missing member is listed:\n" + e.Message);
    }

    [Test]
    public void AChangedSignatureMissingTypeOrInterfaceIsReportedWithWhatWasFound()
    {
        var changed = InternalMember.Method("Microsoft.ML.Core", "Microsoft.ML.ModelLoadContext", "CheckAtModel",
            "System.Void", "System.Int32");
        var missingType = InternalMember.Constructor("Microsoft.ML.Core", "Microsoft.ML.NoSuchContext");
        var missingInterface = InternalMember.Implements("Microsoft.ML.Data", "Microsoft.ML.MLContext", "Microsoft.ML.Data.IInternalCatalog");
        var missingAssembly = InternalMember.Constructor("Microsoft.ML.NoSuchAssembly", "Microsoft.ML.Anything");

        var message = InternalApiCheck.FindProblem([changed, missingType, missingInterface, missingAssembly]);

        Assert.That(message, Does.Contain("CheckAtModel(System.Int32) : System.Void (signature differs; found ")
            .And.Contain("CheckAtModel(Microsoft.ML.VersionInfo) : System.Void"));
        Assert.That(message, Does.Contain("type Microsoft.ML.NoSuchContext not found in Microsoft.ML.Core"));
        Assert.That(message, Does.Contain("Microsoft.ML.MLContext does not implement Microsoft.ML.Data.IInternalCatalog"));
        Assert.That(message, Does.Contain("assembly Microsoft.ML.NoSuchAssembly could not be loaded"));
    }

    /// <summary>
    /// The check's list must name every non-public ML.NET type and member MlNetLstm.dll references:
    /// reads the library's type, member and generic-method references and resolves them against the
    /// Microsoft.ML.Core / Microsoft.ML.Data loaded here.
    /// </summary>
    [Test]
    public void TheListCoversEveryInternalMemberTheLibraryReferences()
    {
        var library = typeof(LstmClassifierTransformer).Assembly;
        var module = library.ManifestModule;
        using var pe = new PEReader(File.OpenRead(library.Location));
        var metadata = pe.GetMetadataReader();

        var usedTypes = new HashSet<Type>();
        var usedMembers = new List<MethodBase>();
        for (int row = 1; row <= metadata.GetTableRowCount(TableIndex.TypeRef); row++)
        {
            var type = module.ResolveType(MetadataTokens.GetToken(MetadataTokens.TypeReferenceHandle(row)));
            if (IsMlNetCoreOrData(type) && !IsAccessible(type))
                usedTypes.Add(type);
        }
        var members = Enumerable.Range(1, metadata.GetTableRowCount(TableIndex.MemberRef)).Select(row => (EntityHandle)MetadataTokens.MemberReferenceHandle(row))
            .Concat(Enumerable.Range(1, metadata.GetTableRowCount(TableIndex.MethodSpec)).Select(row => (EntityHandle)MetadataTokens.MethodSpecificationHandle(row)));
        foreach (var handle in members)
        {
            MemberInfo? member;
            try
            {
                member = module.ResolveMember(MetadataTokens.GetToken(handle));
            }
            catch (ArgumentException)
            {
                // A member of a generic type instantiated over our own type parameters: resolve its
                // generic type definition instead and require it to be outside ML.NET's internals.
                var definition = GenericDefinitionOf(metadata, module, handle);
                Assert.That(definition is null || !IsMlNetCoreOrData(definition) || IsAccessible(definition),
                    $"unresolvable reference into {definition}");
                continue;
            }
            if (member is MethodBase method && IsMlNetCoreOrData(method.DeclaringType!) && !IsAccessible(method))
                usedMembers.Add(method is MethodInfo { IsGenericMethod: true } generic ? generic.GetGenericMethodDefinition() : method);
        }
        Assert.That(usedMembers, Is.Not.Empty, "the scan finds the bridge's internal calls");

        var listed = InternalApiCheck.Members.Concat(InternalApiCheck.OnnxMembers).Select(m => m.Resolve(out _)).ToList();
        Assert.That(listed, Has.None.Null);
        var uncoveredMembers = usedMembers.Where(used => !listed.Any(l => l is MethodBase m && m.HasSameMetadataDefinitionAs(used)));
        Assert.That(uncoveredMembers.Select(m => $"{m.DeclaringType}.{m}"), Is.Empty,
            "internal ML.NET members MlNetLstm calls but InternalApiCheck.Members does not list");

        var listedText = string.Join("\n", InternalApiCheck.Members.Concat(InternalApiCheck.OnnxMembers).Select(m => m.ToString()));
        var coveredTypes = listed.Select(l => l is Type t ? t : l!.DeclaringType!).ToHashSet();
        var uncoveredTypes = usedTypes.Where(t => !coveredTypes.Contains(t) && !listedText.Contains(InternalMember.TypeName(t)));
        Assert.That(uncoveredTypes, Is.Empty, "internal ML.NET types MlNetLstm uses but InternalApiCheck.Members does not mention");
    }

    private static bool IsMlNetCoreOrData(Type type) => type.Assembly.GetName().Name is "Microsoft.ML.Core" or "Microsoft.ML.Data";

    // Reachable from another assembly without IgnoresAccessChecksTo (protected counts: we may derive).
    private static bool IsAccessible(Type type)
    {
        for (var t = type; t is not null; t = t.DeclaringType)
        {
            if (!(t.IsPublic || t.IsNestedPublic || t.IsNestedFamily || t.IsNestedFamORAssem))
                return false;
        }
        return !type.IsGenericType || type.GetGenericArguments().All(a => a.IsGenericParameter || !IsMlNetCoreOrData(a) || IsAccessible(a));
    }

    private static bool IsAccessible(MethodBase method) =>
        IsAccessible(method.DeclaringType!) && (method.IsPublic || method.IsFamily || method.IsFamilyOrAssembly);

    private static Type? GenericDefinitionOf(MetadataReader metadata, Module module, EntityHandle handle)
    {
        if (handle.Kind == HandleKind.MethodSpecification)
            handle = metadata.GetMethodSpecification((MethodSpecificationHandle)handle).Method;
        if (handle.Kind != HandleKind.MemberReference)
            return null;
        var parent = metadata.GetMemberReference((MemberReferenceHandle)handle).Parent;
        if (parent.Kind != HandleKind.TypeSpecification)
            return null;
        var blob = metadata.GetBlobReader(metadata.GetTypeSpecification((TypeSpecificationHandle)parent).Signature);
        if (blob.ReadSignatureTypeCode() != SignatureTypeCode.GenericTypeInstance)
            return null;
        blob.ReadSignatureTypeCode(); // class or value type
        return module.ResolveType(MetadataTokens.GetToken(blob.ReadTypeHandle()));
    }
}

/// <summary>The package versions this test assembly was built with (from Directory.Build.props or -p:).</summary>
public static class BuildVersions
{
    public static string MicrosoftML => Of("MicrosoftMLVersion");

    public static string TorchSharp => Of("TorchSharpVersion");

    private static string Of(string key) =>
        typeof(BuildVersions).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == key).Value!;
}
