namespace WebService;

/// <summary>
/// `dotnet run --project examples/WebService -c Release -- [--model PATH] [--urls URL]`: serves an MlNetLstm
/// model zip over HTTP (JSON API and a draw-a-digit page). Settings are ASP.NET Core configuration keys (see
/// <see cref="ServiceOptions"/>).
/// </summary>
public sealed class Program
{
    private Program() { }

    public const int BadArguments = 2;

    public static int Main(string[] args)
    {
        var app = Build(args);
        ServiceOptions options;
        try
        {
            options = app.Services.GetRequiredService<ServiceOptions>();
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return BadArguments;
        }
        if (!File.Exists(options.ModelPath))
        {
            Console.Error.WriteLine($"error: {options.MissingModelMessage}");
            return ModelLoader.LoadFailedExitCode;
        }
        var holder = app.Services.GetRequiredService<ModelHolder>(); // the container is disposed when Run returns
        app.Run();
        return holder.LoadFailed ? ModelLoader.LoadFailedExitCode : 0;
    }

    public static WebApplication Build(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        // A line per request would cost more than the prediction; startup and errors are still logged.
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Services.AddProblemDetails();
        // Read when first needed, so settings a test host adds after this method are seen.
        builder.Services.AddSingleton(services => ServiceOptions.From(services.GetRequiredService<IConfiguration>()));
        builder.Services.AddSingleton<ModelHolder>();
        builder.Services.AddSingleton<ShippedDigits>();
        builder.Services.AddHostedService<ModelLoader>();

        var app = builder.Build();
        // Any exception a handler lets through becomes a 500 problem answer; the service goes on.
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        PredictionApi.Map(app);
        PageFiles.Map(app);
        return app;
    }
}
