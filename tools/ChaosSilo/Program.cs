using Microsoft.Extensions.Hosting;
using OrleansTasks.Chaos;
using OrleansTasks.Silo;

// The production silo, configured the same way (appsettings.json, environment, command line), plus chaos_probe.
await SiloHost.Build(args, jobs => jobs.AddChaosProbe()).RunAsync();
