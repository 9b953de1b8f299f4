namespace Trellis.Postgres;

/// <summary>
/// Every statement the store runs, built once per schema, grouped by the part of the store that runs them (each group
/// sits in the file of that part). Notifications go to one channel per schema, with a one-letter kind prefix:
/// <c>w:queue</c> (work is ready), <c>c:run</c> (cancel requested), <c>o:run</c> (a finished run is live again: retried or
/// resumed), <c>d:run\nrun…</c> (these runs finished) or
/// <c>d</c> (many runs finished).
/// </summary>
internal sealed class PostgresSql
{
    public PostgresSql(SchemaName schema)
    {
        Channel = $"{schema.Name}.events";
        Listen = $"LISTEN \"{Channel}\"";
        Runs = new RunsSql(schema.Quoted);
        Queue = new QueueSql(schema.Quoted);
        ClaimWindows = new ClaimWindowSql(schema.Quoted);
        Checkpoints = new CheckpointSql(schema.Quoted);
        LeaderLeases = new LeaderLeaseSql(schema.Quoted);
        Timers = new TimerSql(schema.Quoted);
        Events = new EventSql(schema.Quoted);
        Values = new ValueSql(schema.Quoted);
        Children = new ChildSql(schema.Quoted);
        History = new HistorySql(schema.Quoted);
        Control = new RunControlSql(schema.Quoted);
        Statistics = new StatisticsSql(schema.Quoted);
        Workers = new WorkerSql(schema.Quoted);
        QueueStats = PostgresStore.QueueStatsSql(schema.Quoted);
        QueueReport = new QueueReportSql(schema.Quoted);
        Retention = new RetentionSql(schema.Quoted);
        EventLockPrefix = $"trellis.event:{schema.Name}:";
    }

    /// <summary>The schema's notification channel.</summary>
    public string Channel { get; }

    public string Listen { get; }
    public RunsSql Runs { get; }
    public QueueSql Queue { get; }
    public ClaimWindowSql ClaimWindows { get; }
    public CheckpointSql Checkpoints { get; }
    public LeaderLeaseSql LeaderLeases { get; }
    public TimerSql Timers { get; }
    public EventSql Events { get; }
    public ValueSql Values { get; }
    public ChildSql Children { get; }
    public HistorySql History { get; }
    public RunControlSql Control { get; }
    public StatisticsSql Statistics { get; }
    public WorkerSql Workers { get; }
    public string QueueStats { get; }
    public QueueReportSql QueueReport { get; }
    public RetentionSql Retention { get; }

    /// <summary>What an event lock's key starts with: waits and publishes on one name and key take the same lock.</summary>
    public string EventLockPrefix { get; }
}
