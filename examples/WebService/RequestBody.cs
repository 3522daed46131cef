using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.Features;

namespace WebService;

/// <summary>POST /predict's body.</summary>
public sealed record PredictRequest(float[]? Features);

/// <summary>POST /predict/batch's body.</summary>
public sealed record BatchRequest(float[]?[]? Rows);

/// <summary>
/// Reads a JSON request body of bounded size. Every failure is an answer for the client (400 or 413 with a
/// problem detail), never an exception that reaches the server.
/// </summary>
public static class RequestBody
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        // "NaN" and "Infinity" parse, so that the answer can say which value is not finite.
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>The body parsed as <typeparamref name="T"/>, or the problem answer when it is too large or not valid JSON for it.</summary>
    public static async Task<(T? Value, IResult? Problem)> ReadAsync<T>(HttpRequest request, long maxBytes) where T : class
    {
        if (request.ContentLength > maxBytes)
            return (null, TooLarge(maxBytes));
        // The server's own limit (Kestrel: 30 MB by default) becomes this one, so a larger setting works too.
        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } sizeLimit)
            sizeLimit.MaxRequestBodySize = maxBytes;

        using var body = new MemoryStream();
        var buffer = new byte[16 * 1024];
        try
        {
            int read;
            while ((read = await request.Body.ReadAsync(buffer, request.HttpContext.RequestAborted)) > 0)
            {
                if (body.Length + read > maxBytes)
                    return (null, TooLarge(maxBytes));
                body.Write(buffer, 0, read);
            }
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return (null, TooLarge(maxBytes));
        }
        catch (BadHttpRequestException e)
        {
            // A body that arrives too slowly (408) or is malformed on the wire, e.g. bad chunk sizes (400).
            return (null, TypedResults.Problem(detail: $"The request body could not be read: {e.Message}",
                statusCode: e.StatusCode, title: "Unreadable request body"));
        }

        try
        {
            var value = JsonSerializer.Deserialize<T>(body.GetBuffer().AsSpan(0, (int)body.Length), Json);
            return value is null ? (null, Invalid("The request body is JSON null; send an object.")) : (value, null);
        }
        catch (JsonException e)
        {
            return (null, Invalid($"The request body is not valid JSON for this endpoint: {e.Message}"));
        }
    }

    /// <summary>400 with an application/problem+json body whose detail says what is wrong.</summary>
    public static IResult Invalid(string detail) =>
        TypedResults.Problem(detail: detail, statusCode: StatusCodes.Status400BadRequest, title: "Invalid request");

    private static IResult TooLarge(long maxBytes) =>
        TypedResults.Problem(detail: $"The request body is over the limit of {maxBytes:N0} bytes (--{ServiceOptions.MaxRequestBytesKey}).",
            statusCode: StatusCodes.Status413PayloadTooLarge, title: "Request body too large");
}
