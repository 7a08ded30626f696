using Microsoft.Extensions.Hosting;
using OrleansTasks.Silo;

await SiloHost.Build(args).RunAsync();
