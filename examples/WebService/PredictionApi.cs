namespace WebService;

/// <summary>The HTTP API: health, model description, single and batch predictions, shipped test digits.</summary>
public static class PredictionApi
{
    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/health", (ModelHolder holder) => holder.Current is null
            ? Loading()
            : TypedResults.Ok(new { status = "ok" }));

        app.MapGet("/model", (ModelHolder holder) => holder.Current is { } model ? TypedResults.Ok(model.Info) : Loading());

        app.MapPost("/predict", async (HttpRequest request, ModelHolder holder, ServiceOptions options) =>
        {
            if (holder.Current is not { } model)
                return Loading();
            var (body, problem) = await RequestBody.ReadAsync<PredictRequest>(request, options.MaxRequestBytes);
            if (problem is not null)
                return problem;
            if (model.Problem(body!.Features, "features") is string detail)
                return RequestBody.Invalid(detail);
            var prediction = model.Predict(body.Features!);
            return ServedModel.Unsendable(prediction, "features") is string unsendable
                ? RequestBody.Invalid(unsendable)
                : TypedResults.Ok(prediction);
        });

        app.MapPost("/predict/batch", async (HttpRequest request, ModelHolder holder, ServiceOptions options) =>
        {
            if (holder.Current is not { } model)
                return Loading();
            var (body, problem) = await RequestBody.ReadAsync<BatchRequest>(request, options.MaxRequestBytes);
            if (problem is not null)
                return problem;
            if (body!.Rows is not { } rows)
                return RequestBody.Invalid("'rows' is missing: send an array of feature arrays.");
            if (rows.Length == 0)
                return RequestBody.Invalid("'rows' is empty: send at least one feature array.");
            if (rows.Length > options.MaxBatchRows)
                return RequestBody.Invalid($"'rows' has {rows.Length:N0} rows; the limit is {options.MaxBatchRows:N0} (--{ServiceOptions.MaxBatchRowsKey}).");
            for (int i = 0; i < rows.Length; i++)
            {
                if (model.Problem(rows[i], $"rows[{i}]") is string detail)
                    return RequestBody.Invalid(detail);
            }
            var predictions = model.PredictBatch(rows!);
            for (int i = 0; i < predictions.Count; i++)
            {
                if (ServedModel.Unsendable(predictions[i], $"rows[{i}]") is string unsendable)
                    return RequestBody.Invalid(unsendable);
            }
            return TypedResults.Ok(new BatchResponse(predictions));
        });

        app.MapGet("/samples/{number}", (string number, ModelHolder holder, ShippedDigits digits) =>
        {
            if (holder.Current is not { } model)
                return Loading();
            if (!model.ReadsDigitImages)
                return NotFound("This model does not read 28×28 digit images: test digits are served for MNIST models only.");
            if (digits.Count == 0)
                return NotFound($"The shipped test digits were not found beside the app ({digits.Folder}).");
            if (!int.TryParse(number, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out int index)
                || index < 0 || index >= digits.Count)
                return NotFound($"There is no test digit '{(number.Length > 20 ? number[..20] + "…" : number)}': there are {digits.Count:N0}, numbered 0 to {digits.Count - 1:N0}.");
            return TypedResults.Ok(digits[index]);
        });
    }

    private static IResult Loading() =>
        TypedResults.Problem(detail: "The model is still loading.", statusCode: StatusCodes.Status503ServiceUnavailable, title: "Not ready");

    private static IResult NotFound(string detail) =>
        TypedResults.Problem(detail: detail, statusCode: StatusCodes.Status404NotFound, title: "Not found");
}

/// <summary>POST /predict/batch's answer, one prediction per row in the order sent.</summary>
public sealed record BatchResponse(IReadOnlyList<Prediction> Predictions);
