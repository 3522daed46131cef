// Access to ML.NET internals.
//
// Model save/load (LoadableClass, ModelSaveContext/ModelLoadContext, VersionInfo), IHost/IChannel and
// friends are `internal` in Microsoft.ML.Core / Microsoft.ML.Data. Every use of them lives in this
// MlNetInternals/ folder and relies on two halves:
//  - compile time: build/MlNetLstm.PublicizeMlNet.targets makes the compiler reference copies of those
//    two assemblies with their internal types/members made public (the copies are never shipped);
//  - run time: the attributes below tell the CLR to skip access checks from this assembly into the real
//    Microsoft.ML.Core / Microsoft.ML.Data (honored by CoreCLR since .NET Core 1.0, undocumented).
// The attribute type is not part of the BCL's public surface, so we define it ourselves; the runtime
// matches it by full name only.

[assembly: System.Runtime.CompilerServices.IgnoresAccessChecksTo("Microsoft.ML.Core")]
[assembly: System.Runtime.CompilerServices.IgnoresAccessChecksTo("Microsoft.ML.Data")]

namespace System.Runtime.CompilerServices
{
    /// <summary>
    /// Tells the runtime to skip visibility checks from the declaring assembly into the named assembly.
    /// </summary>
    [AttributeUsage(AttributeTargets.Assembly, AllowMultiple = true)]
    internal sealed class IgnoresAccessChecksToAttribute : Attribute
    {
        /// <summary>Creates the attribute for the given assembly simple name.</summary>
        public IgnoresAccessChecksToAttribute(string assemblyName) => AssemblyName = assemblyName;

        /// <summary>Simple name of the assembly whose internals this assembly may access.</summary>
        public string AssemblyName { get; }
    }
}
