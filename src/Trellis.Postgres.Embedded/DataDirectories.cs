namespace Trellis.Postgres.Embedded;

/// <summary>Where a development server keeps its data by default, and the lock that lets one process run it.</summary>
internal static class DataDirectories
{
    /// <summary>
    /// "&lt;the folder holding Trellis.slnx, found upward from AppContext.BaseDirectory, then the current directory&gt;/.trellis/&lt;name&gt;",
    /// or "&lt;current dir&gt;/.trellis/&lt;name&gt;" outside the repository.
    /// </summary>
    public static string Default(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var root = FindSolutionFolder(AppContext.BaseDirectory)
            ?? FindSolutionFolder(Directory.GetCurrentDirectory())
            ?? Directory.GetCurrentDirectory();
        return Path.Combine(root, ".trellis", name);
    }

    /// <summary>Only one process may run a data directory; the OS releases the lock even if this process is killed.</summary>
    public static FileStream TakeLock(string dataDirectory)
    {
        try
        {
            return new FileStream(dataDirectory + ".lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e)
        {
            throw new EmbeddedPostgresException(
                $"The data directory {dataDirectory} is in use by another process (it holds {dataDirectory}.lock). Stop that process or use another DataDirectory.", e);
        }
    }

    private static string? FindSolutionFolder(string start)
    {
        for (var folder = new DirectoryInfo(start); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "Trellis.slnx")))
            {
                return folder.FullName;
            }
        }

        return null;
    }
}
