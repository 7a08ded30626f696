using OrleansTasks.Silo;

return await SiloHost.RunAsync(args);
