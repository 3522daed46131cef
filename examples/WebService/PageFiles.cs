using Microsoft.AspNetCore.StaticFiles;

namespace WebService;

/// <summary>Serves the page (Page/ in the project, embedded in the assembly): index.html at /, the rest by name.</summary>
public static class PageFiles
{
    private const string Prefix = "Page/";

    public static void Map(IEndpointRouteBuilder app)
    {
        var assembly = typeof(PageFiles).Assembly;
        var types = new FileExtensionContentTypeProvider();
        foreach (var resource in assembly.GetManifestResourceNames().Where(n => n.StartsWith(Prefix, StringComparison.Ordinal)))
        {
            string name = resource[Prefix.Length..];
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            byte[] content = copy.ToArray();
            string contentType = types.TryGetContentType(name, out var type) ? type : "application/octet-stream";
            if (contentType.StartsWith("text/", StringComparison.Ordinal) || contentType.EndsWith("javascript", StringComparison.Ordinal))
                contentType += "; charset=utf-8";
            // no-cache: a browser revalidates, so an updated service never runs with an old page.
            IResult Serve(HttpContext context)
            {
                context.Response.Headers.CacheControl = "no-cache";
                return TypedResults.Bytes(content, contentType);
            }
            app.MapGet("/" + name, Serve);
            if (name == "index.html")
                app.MapGet("/", Serve);
        }
    }
}
