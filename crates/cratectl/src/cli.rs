//! The command line, as clap definitions. Only shapes and help text live here; what each command
//! does is in `commands/`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use cratectl_core::restart::plan::{MinAvailability, Order};
use jiff::{SignedDuration, Timestamp};

use crate::exit::EXIT_CODES_HELP;

/// Day-2 operations on CrateDB clusters running on Kubernetes.
///
/// Rolling restarts gated on CrateDB health, maintenance windows with operator override,
/// scaling, snapshot restore and suspend/resume, run as durable workflows that survive a crash
/// and always restore the cluster settings they changed.
#[derive(Debug, Parser)]
#[command(
    name = "cratectl",
    version,
    propagate_version = true,
    arg_required_else_help = true
)]
#[command(after_help = EXIT_CODES_HELP)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    /// Output format; a command's own -o wins.
    #[arg(short = 'o', long = "output", value_enum, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command accepts, before or after the subcommand. Flags override environment
/// variables, which override a `.env` file in the working directory.
#[derive(Clone, Debug, Default, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Kubeconfig file [default: the files in KUBECONFIG, else ~/.kube/config].
    #[arg(long, global = true, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context [default: its current context].
    #[arg(long, global = true, env = "K8S_CONTEXT", value_name = "NAME")]
    pub context: Option<String>,
    /// Namespace to look for clusters in [default: all namespaces].
    #[arg(long, global = true, value_name = "NAMESPACE")]
    pub namespace: Option<String>,
    /// Where cratectl keeps its workflow records [default: $CRATECTL_STATE_DIR, else
    /// $XDG_STATE_HOME/cratectl, else ~/.local/state/cratectl].
    #[arg(long, global = true, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Log verbosity on standard error.
    #[arg(long, global = true, value_enum, default_value_t = LogLevel::Warn)]
    pub log_level: LogLevel,
    /// Log line format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Address CrateDB directly at this URL instead of through Kubernetes (http:// or https://).
    #[arg(long, global = true, env = "CRATEDB_CLUSTER_URL", value_name = "URL")]
    pub cluster_url: Option<String>,
    /// CrateDB user [default: system, with the password from the cluster's Secret].
    #[arg(long, global = true, env = "CRATEDB_USERNAME", value_name = "USER")]
    pub username: Option<String>,
    /// CrateDB password (prefer the CRATEDB_PASSWORD variable: flags show in process lists).
    #[arg(
        long,
        global = true,
        env = "CRATEDB_PASSWORD",
        hide_env_values = true,
        value_name = "PASSWORD"
    )]
    pub password: Option<String>,
    /// A JWT bearer token for CrateDB instead of a password. Refused if it is not a JWT or has
    /// expired; restart, scale, restore, suspend, resume and worker refuse one that expires at all (a workflow
    /// can outlive it): give --token-command instead.
    #[arg(
        long,
        global = true,
        env = "CRATEDB_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN",
        conflicts_with = "password"
    )]
    pub token: Option<String>,
    /// A shell command that prints a JWT for CrateDB (the token alone, or JSON {"token": …,
    /// "expiry": RFC 3339}), run with /bin/sh -c when a token is needed, again before the
    /// token expires, and once when CrateDB refuses it. The token is kept in memory only.
    #[arg(
        long,
        global = true,
        env = "CRATEDB_TOKEN_COMMAND",
        hide_env_values = true,
        value_name = "CMD",
        conflicts_with_all = ["token", "password"]
    )]
    pub token_command: Option<String>,
    /// How long before the token's expiry (its `exp`) --token-command runs again.
    #[arg(
        long,
        global = true,
        value_name = "DURATION",
        default_value = "5m",
        value_parser = parse_duration
    )]
    pub token_refresh_before: SignedDuration,
    /// The workflow engine operations run on: the embedded one (records in --state-dir) or a
    /// Temporal server (a build with the `temporal` feature).
    #[arg(
        long,
        global = true,
        env = "CRATECTL_ENGINE",
        value_enum,
        default_value_t = EngineKind::Duroxide,
        help_heading = "Engine options"
    )]
    pub engine: EngineKind,
    /// Temporal's frontend, host:port or a URL (https:// for TLS).
    #[arg(
        long,
        global = true,
        env = "TEMPORAL_ADDRESS",
        value_name = "HOST:PORT",
        default_value = "localhost:7233",
        help_heading = "Engine options"
    )]
    pub temporal_address: String,
    /// Temporal namespace.
    #[arg(
        long,
        global = true,
        env = "TEMPORAL_NAMESPACE",
        value_name = "NAME",
        default_value = "default",
        help_heading = "Engine options"
    )]
    pub temporal_namespace: String,
    /// Temporal task queue the workers poll and operations are started on.
    #[arg(
        long,
        global = true,
        env = "TEMPORAL_TASK_QUEUE",
        value_name = "NAME",
        default_value = "cratectl",
        help_heading = "Engine options"
    )]
    pub task_queue: String,
    /// TLS: a client certificate (PEM) for mutual TLS with Temporal; needs --temporal-tls-key.
    #[arg(
        long,
        global = true,
        env = "TEMPORAL_TLS_CERT",
        value_name = "PATH",
        requires = "temporal_tls_key",
        help_heading = "Engine options"
    )]
    pub temporal_tls_cert: Option<PathBuf>,
    /// TLS: the client certificate's private key (PEM).
    #[arg(
        long,
        global = true,
        env = "TEMPORAL_TLS_KEY",
        value_name = "PATH",
        requires = "temporal_tls_cert",
        help_heading = "Engine options"
    )]
    pub temporal_tls_key: Option<PathBuf>,
    /// TLS: the CA that signed Temporal's server certificate (PEM) [default: the system's roots].
    #[arg(
        long,
        global = true,
        env = "TEMPORAL_TLS_CA",
        value_name = "PATH",
        help_heading = "Engine options"
    )]
    pub temporal_tls_ca: Option<PathBuf>,
    /// An API key for Temporal (Temporal Cloud); implies TLS. Prefer the variable: flags show in
    /// process lists. Never printed.
    #[arg(
        long,
        global = true,
        env = "TEMPORAL_API_KEY",
        hide_env_values = true,
        value_name = "KEY",
        help_heading = "Engine options"
    )]
    pub temporal_api_key: Option<String>,
}

/// `--engine`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum EngineKind {
    /// Embedded: one SQLite file in the state directory; workers share the directory.
    #[default]
    Duroxide,
    /// A Temporal server: workers on any host share its task queue.
    Temporal,
}

/// `--log-level`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum LogLevel {
    Error,
    #[default]
    Warn,
    Info,
    Debug,
    Trace,
}

/// `--log-format`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Maintenance windows: check a cluster, list and validate a file, write a sample.
    #[command(subcommand)]
    Maintenance(MaintenanceCommand),

    /// Print a shell completion script for cratectl, generated from its command-line definition.
    ///
    /// bash: `source <(cratectl completion bash)`, or save it to
    /// ~/.local/share/bash-completion/completions/cratectl. zsh: save it as `_cratectl` in a
    /// directory of $fpath. fish: save it to ~/.config/fish/completions/cratectl.fish.
    /// PowerShell: `cratectl completion powershell | Out-String | Invoke-Expression`.
    Completion(CompletionArgs),

    /// Discover and inspect CrateDB clusters: list, info, health, ping.
    #[command(subcommand)]
    Cluster(ClusterCommand),

    /// Snapshots: the repositories of a cluster and their snapshots.
    #[command(subcommand)]
    Snapshot(SnapshotCommand),

    /// Run SQL on a cluster. Statements that change state need --write.
    #[command(
        after_help = "Examples:\n  cratectl sql prod-eu 'SELECT name FROM sys.nodes'\n  \
        cratectl sql prod-eu 'SELECT * FROM sys.health WHERE table_name = ?' --arg t1 -o json\n  \
        cratectl sql prod-eu 'RESET GLOBAL \"cluster.routing.allocation.enable\"' --write"
    )]
    Sql(SqlArgs),

    /// Find what operations leave behind (settings, labels, Leases) and print the fix for each.
    ///
    /// Checks allocation.enable and allocation.exclude._name, graceful_stop.*, stale
    /// dc-util-routing-owner labels and expired cratectl Leases. Exit 0 when nothing is found,
    /// 1 when something is (or could not be checked), 2 for invalid input. Fixes nothing unless
    /// --fix.
    Doctor(DoctorArgs),

    /// Rolling restart of CrateDB clusters, one pod at a time, as a durable workflow.
    ///
    /// Safety: within a cluster only one node is ever down, and a pod is stopped only after
    /// CrateDB itself, read through another node, reports every expected node and GREEN with
    /// nothing initializing or relocating on --stable-polls consecutive readings; a pod is
    /// deleted only while it still has the UID recorded before its step. Every cluster setting
    /// the restart changes is recorded first and restored on success, failure, cancel and crash
    /// recovery, and unknown clusters, an invalid maintenance file, a cluster already in an
    /// operation or an unhealthy cluster are refused before anything changes.
    ///
    /// Without --async it runs the workflow in this process, shows progress, prints the report
    /// and exits 0 when every cluster succeeded, 1 when one failed or was cancelled. Ctrl-C
    /// leaves the restart recorded (resume it with `cratectl worker`) and exits 130.
    #[command(after_help = RESTART_EXAMPLES)]
    Restart(RestartArgs),

    /// Scale node groups of one cluster: nodes join, or leave one at a time once CrateDB has moved
    /// every shard copy off them.
    ///
    /// GROUP is a data group of the resource (spec.nodes.data[].name) or `master` (dedicated
    /// masters: an odd number ≥ 3, changed one node at a time). Order: masters up, data up, data
    /// down, masters down. A scale-down excludes the leaving nodes
    /// (cluster.routing.allocation.exclude._name, others' entries kept), waits until sys.shards
    /// shows no copy on them (a drain with no progress for --drain-stall-timeout fails with
    /// CrateDB's own sys.allocations explanation), then removes them highest ordinal first,
    /// each after a stable-GREEN gate, waiting until its pod is gone and the node has left. The
    /// gateway settings on the crate container's command line (expected/recover_after) follow
    /// the new counts (OnDelete StatefulSets only; --no-gateway-patch leaves them).
    ///
    /// Modes: `auto` (default) picks `operator` when the resource carries the CrateDB
    /// operator's finalizer or last-handled annotation, else `direct`. Operator mode pre-drains
    /// leaving nodes itself, then changes the resource's replicas one node at a time and
    /// follows the operator (dedicated masters there need --mode direct --force-direct: the
    /// operator refuses the even counts one node at a time passes through); direct mode
    /// patches the StatefulSets. `--mode direct` on an operator's resource needs --force-direct.
    ///
    /// Refused before anything is recorded (exit 2): a malformed GROUP=N, an unknown or repeated
    /// group, every data group to 0 (use suspend), an even or < 3 master count, a
    /// master-eligible group below 2, a table or partition whose replicas would not fit (each
    /// named), a non-OnDelete StatefulSet, a suspended cluster, a held Lease, the CrateDB
    /// operator running a handler on the resource, --cluster-url.
    /// Fails at its start (exit 1): not stable GREEN, a leaving node missing,
    /// allocation.enable not `all`, the resource changed since the plan. Nothing to do: exit 0.
    /// Cancel, stop or a crash leave no exclusion, label, changed setting or Lease of ours;
    /// StatefulSet replicas already changed are not rolled back (the report says which nodes
    /// were added or removed). Exit codes as restart: 0, 1, 2, 130.
    #[command(after_help = SCALE_EXAMPLES)]
    Scale(ScaleArgs),

    /// Restore a snapshot into a cluster, as a durable workflow that cleans up after itself.
    ///
    /// Choose exactly one scope: --all, --metadata, --tables-all (the keyword TABLES: tables
    /// only, never users or settings), --table and/or --partition (repeatable), or --section
    /// (repeatable; checked against the cluster's CrateDB version: `users`/`privileges` before
    /// 6.5, `usermanagement` from 5.6). TABLE is SCHEMA.TABLE or TABLE (schema doc); a part in
    /// double quotes is a quoted identifier ("My Table", "a.b"), unquoted parts are lower-cased.
    /// SPEC is TABLE:COL=VALUE[,COL=VALUE…]; VALUE is JSON when it parses as a number, true,
    /// false, null or a "string" (the way to carry , or =), else text.
    ///
    /// Choose exactly one repository: --repository NAME (existing: never created or dropped),
    /// --repository-secret SECRET (a read-only temporary repository
    /// cratectl_restore_<start> from the Secret's keys — s3: access-key-id, secret-access-key,
    /// bucket, base-path, optional endpoint, region, protocol; azure: account-name,
    /// account-key, container, base-path, optional endpoint — dropped again on every path), or
    /// --from-resource (the Secret references of the resource's spec.cluster.restoreSnapshot).
    /// Secret values are only ever bind arguments: never in a statement, log, report or error.
    ///
    /// Refused before anything is recorded (exit 2): no or several scope or repository options,
    /// a bad TABLE, SPEC, section or snapshot name, a missing Secret or key, an unknown
    /// repository or snapshot (listing what exists), a snapshot that is not SUCCESS (PARTIAL
    /// needs --allow-partial) or was written by a newer CrateDB, tables or partitions that exist
    /// already (listed), a restore already running or requested on the resource, a held Lease,
    /// --all/--metadata/users/analyzers sections without --yes when standard input is not a terminal,
    /// --cluster-url. Fails (exit 1): not stable GREEN, allocation.enable not `all`, the
    /// restore failing or exceeding --restore-timeout. Internal gc.* tables that exist are
    /// renamed to <t>_temp first (grand-central scaled to 0) and dropped after success or
    /// renamed back otherwise; after --all/--metadata/users sections the system (and gc_admin)
    /// password is set back from the cluster's Secrets at once. Restored tables stay unless
    /// `cratectl cancel ID --drop-restored`; a temporary repository that a restore in progress
    /// still reads from is left (CrateDB refuses to drop it), with the statement to drop it
    /// later. Exit codes as restart: 0, 1, 2, 130.
    #[command(after_help = RESTORE_EXAMPLES)]
    Restore(RestoreArgs),

    /// Stop every node of a cluster; its data volumes stay, and `cratectl resume` brings it
    /// back as it was.
    ///
    /// Before the first change the suspend record is written on the resource (annotation
    /// cratectl.io/suspended: the node counts, the settings to put back, the backup CronJobs
    /// and Deployments stopped), so any machine can resume. Then, in direct mode:
    /// cluster.routing.allocation.enable = 'primaries' at both levels (unless --no-hold), backup
    /// CronJobs suspended, grand-central and backup-metrics Deployments to 0, every data
    /// StatefulSet to 0 at once, then the dedicated masters, each waited for until no pod is
    /// left. Operator mode (auto on an operator's resource): one guarded patch of every data
    /// group's replicas to 0, then the operator is followed. PVCs are never touched.
    ///
    /// Refused before anything is recorded (exit 2): an unknown cluster, a held Lease, another
    /// actor at work (the CrateDB operator's handlers, a restore or snapshot, pods changing),
    /// --mode direct on an operator's resource without --force-direct, a record on a cluster
    /// whose nodes run (finish it with resume), --cluster-url. Fails (exit 1): not stable GREEN
    /// (unless --allow-unhealthy), pods not gone within --stop-timeout. A failure before the
    /// first StatefulSet change undoes everything; after it nothing is rolled back: run
    /// `cratectl resume`. Already suspended: "nothing to do", exit 0.
    #[command(after_help = SUSPEND_EXAMPLES)]
    Suspend(SuspendArgs),

    /// Bring a suspended cluster back: every node with its data, the settings as they were, then
    /// stable GREEN.
    ///
    /// The counts come from the suspend record; --replicas GROUP=N (every group) is accepted
    /// only without a record (a cluster suspended by the operator or by hand) or when equal to
    /// it: a resume to other counts is refused ("resume, then cratectl scale"). Direct mode:
    /// masters back and Ready, then every data StatefulSet at once; operator mode: one guarded
    /// patch of the data counts. Then every expected node in sys.nodes with a master elected,
    /// every primary active, the recorded settings restored, stable GREEN, the backup CronJobs
    /// and Deployments back, and the record removed last. A failure leaves the record: run
    /// resume again.
    ///
    /// Refused (exit 2): no record and no --replicas (the data volume claims are shown as a
    /// hint, never used silently), --replicas malformed, incomplete or different from the
    /// record, a held Lease, --cluster-url. Not suspended: "nothing to do", exit 0.
    #[command(after_help = RESUME_EXAMPLES)]
    Resume(ResumeArgs),

    /// Runs operations started with --async and resumes interrupted ones.
    ///
    /// Runs until Ctrl-C or SIGTERM, then lets in-flight steps finish for a few seconds (a step
    /// cut short runs again on the next start). At start it first undoes what stopped operations left open (settings, labels, Leases) and
    /// logs what it did. Several workers may share a state directory. Exit 0 on a clean stop.
    Worker(WorkerArgs),

    /// Show an operation's report (no worker needs to be running).
    ///
    /// ID is the operation's id, or one cluster's id within it (the Lease holder `cluster list`
    /// and `doctor` show). The report is the same as the operation prints (-o json: the report
    /// contract, with "operation"). When a running operation has not been advanced by a worker
    /// for over a minute, a note on standard error says since when and how to resume it. Exit 0
    /// when the operation is found, whatever its state; 2 when none has that id.
    Status(StatusArgs),

    /// List recorded operations of every kind, newest first (started or not).
    #[command(visible_alias = "list-workflows")]
    List(ListWorkflowsArgs),

    /// Cancels an operation and puts back what it changed.
    ///
    /// A hard stop at the next step boundary (waiting up to 30 s for a running worker to stop
    /// it), then the settings, labels, exclusions and Lease it left are restored (a restore: its
    /// temporary repository dropped, renamed internal tables back, grand-central started), and
    /// what was undone is printed. A restore's restored tables stay unless --drop-restored.
    /// Exit 2 when the operation has already finished.
    Cancel(CancelArgs),

    /// Lets a restart waiting for a maintenance window go on now.
    ///
    /// Maintenance windows are then ignored for the rest of its run; the health gate still
    /// applies. Exit 2 when the restart has already finished.
    #[command(visible_alias = "force")]
    ForceRestart(ForceRestartArgs),

    /// Stops a restart cleanly after the pod it is restarting.
    ///
    /// The pod in progress is finished, then settings are restored and the Lease released; the
    /// remaining pods stay pending in the report, with the reason. Exit 2 when the restart has
    /// already finished.
    Stop(StopArgs),

    /// A real rolling restart of two simulated clusters, in this process, in seconds.
    ///
    /// Serves cratesim on loopback (two CrateDB clusters of three nodes, one with the dc_util
    /// preStop hook, one without) and restarts both through the whole stack: the workflow
    /// engine, kube-rs over HTTP, CrateDB through port-forwards. Shows the plan, progress, the
    /// report and what the simulator saw, then how to run the same against a real cluster.
    /// Needs no cluster; writes only to a temporary directory. Exits with the report's code.
    Demo(DemoArgs),
}

const SUSPEND_EXAMPLES: &str = "\
Examples:
  cratectl suspend prod --dry-run            what it would do, changing nothing
  cratectl suspend prod --yes                stop every node (asks first on a terminal)
  cratectl suspend prod --yes --async -o json";

const RESUME_EXAMPLES: &str = "\
Examples:
  cratectl resume prod                       bring it back with the recorded counts
  cratectl resume prod --replicas hot=3 --replicas master=3   no record: say the counts
  cratectl resume prod --async";

const RESTORE_EXAMPLES: &str = "\
Examples:
  cratectl restore prod --snapshot nightly --repository backups --table doc.events --dry-run
  cratectl restore prod --snapshot nightly --repository backups --tables-all
  cratectl restore prod --snapshot nightly --repository-secret restore-creds --partition 'doc.metrics:day=1700000000000'
  cratectl restore prod --snapshot nightly --from-resource --all --yes -o json";

const SCALE_EXAMPLES: &str = "\
Examples:
  cratectl scale prod hot=5 --dry-run             what it would do, changing nothing
  cratectl scale prod hot=5                       add two nodes to group hot
  cratectl scale prod hot=3 --async               remove them again, run by `cratectl worker`
  cratectl scale prod master=5 hot=6 -o json      several groups; the report as JSON";

const RESTART_EXAMPLES: &str = "\
Examples:
  cratectl restart --context prod prod-eu --dry-run      # the plan; changes nothing
  cratectl restart --context prod prod-eu                # restart, with progress
  cratectl restart --context prod all --yes --async      # start for every cluster, return
  cratectl restart prod-eu --maintenance-config maintenance.toml -o json

The report (-o json) is the same as `cratectl status ID -o json` prints.";

/// Which cluster a command is about: by name through Kubernetes, or `--cluster-url`.
#[derive(Clone, Debug, Args)]
pub struct ClusterRef {
    /// The cluster: its CrateDB resource name or spec.cluster.name. Optional with --cluster-url.
    #[arg(value_name = "CLUSTER")]
    pub name: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// Lists the cluster's repositories (name, type) and their snapshots, newest first: name,
    /// state, the CrateDB version that wrote it, started/finished, tables. Repository settings
    /// are never shown (they can hold keys). Read-only; works with --cluster-url too.
    ///
    /// Exit 0 when listed, 1 when the cluster cannot be read, 2 for invalid input (an unknown
    /// --repository names the repositories there are).
    #[command(after_help = "Examples:\n  cratectl snapshot list prod-eu\n  \
        cratectl snapshot list prod-eu --repository backups -o json")]
    List(SnapshotListArgs),
}

/// `cratectl snapshot list`.
#[derive(Debug, Args)]
pub struct SnapshotListArgs {
    /// The cluster: CrateDB cluster name or resource name (not needed with --cluster-url).
    #[arg(value_name = "CLUSTER")]
    pub cluster: Option<String>,
    /// Only this repository.
    #[arg(long, value_name = "NAME")]
    pub repository: Option<String>,
    /// Output format (also a global option).
    #[arg(short = 'o', long = "output", value_enum, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,
}

#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Lists the CrateDB clusters: version, nodes ready/desired, health, dc_util hook, the
    /// operation holding the cluster's Lease.
    List(ListArgs),
    /// Shows one cluster: resource, StatefulSets, pods, CrateDB nodes and master, the settings
    /// operations touch, and tables that are not GREEN.
    Info(InfoArgs),
    /// The health verdict and the readings behind it; with --watch, redraws until Ctrl-C.
    ///
    /// Exit 0 when the cluster is safe to disrupt a node, 1 when it is not (or is unreachable),
    /// 2 for invalid input.
    Health(HealthArgs),
    /// Whether every node answers, with latency. Exit 1 if any does not.
    Ping(PingArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,
}

#[derive(Debug, Args)]
pub struct InfoArgs {
    #[command(flatten)]
    pub cluster: ClusterRef,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,
}

#[derive(Debug, Args)]
pub struct HealthArgs {
    #[command(flatten)]
    pub cluster: ClusterRef,
    /// Redraw a status line every --interval until Ctrl-C.
    #[arg(long)]
    pub watch: bool,
    /// Time between readings with --watch, e.g. 2s or 1m.
    #[arg(long, default_value = "2s", value_parser = parse_duration, value_name = "DURATION")]
    pub interval: SignedDuration,
    /// Output format (text only with --watch).
    #[arg(short = 'o', long = "output", value_enum, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,
}

#[derive(Debug, Args)]
pub struct PingArgs {
    #[command(flatten)]
    pub cluster: ClusterRef,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,
}

/// `cratectl sql -o`: results as a table, JSON or CSV.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum SqlFormat {
    #[default]
    Text,
    Json,
    Csv,
}

#[derive(Debug, Args)]
pub struct SqlArgs {
    /// The cluster (resource name or spec.cluster.name); with --cluster-url, give the
    /// statement alone.
    #[arg(value_name = "CLUSTER")]
    pub first: String,
    /// The statement, when CLUSTER is given.
    #[arg(value_name = "STATEMENT")]
    pub second: Option<String>,
    /// A parameter for the next `?` / `$n`, in order; JSON if it parses as JSON (42, true,
    /// null, [1,2]), else text.
    #[arg(long = "arg", value_name = "VALUE")]
    pub args: Vec<String>,
    /// Allow a statement that changes state (anything but SELECT, SHOW, EXPLAIN, VALUES).
    #[arg(long)]
    pub write: bool,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, value_name = "FORMAT")]
    pub output: Option<SqlFormat>,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub cluster: ClusterRef,
    /// Apply every fix printed (SQL on the cluster, label removal, expired Lease deletion).
    #[arg(long)]
    pub fix: bool,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,
}

/// `restart --order`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum OrderArg {
    /// Pods of master node groups first, then data groups.
    #[default]
    MastersFirst,
    /// Pods of data node groups first, then master groups.
    DataFirst,
}

impl From<OrderArg> for Order {
    fn from(order: OrderArg) -> Order {
        match order {
            OrderArg::MastersFirst => Order::MastersFirst,
            OrderArg::DataFirst => Order::DataFirst,
        }
    }
}

#[derive(Clone, Debug, Args)]
pub struct RestartArgs {
    /// The clusters to restart (CrateDB resource name or spec.cluster.name), or `all` for every
    /// cluster in --namespace (all namespaces by default; asks for confirmation unless --yes).
    #[arg(value_name = "CLUSTER", required = true)]
    pub clusters: Vec<String>,
    /// Print the plan (pods in order, stop method, estimates, health and maintenance-window
    /// decision now) and change nothing: no SQL write, no Kubernetes write, no workflow record.
    #[arg(long)]
    pub dry_run: bool,
    /// Record the restart and return at once with its id; `cratectl worker` runs it.
    #[arg(long = "async")]
    pub run_async: bool,
    /// Only disrupt a cluster inside its maintenance windows from this TOML file; a cluster
    /// the file has no table for (and no [defaults]) is refused.
    #[arg(long, value_name = "FILE")]
    pub maintenance_config: Option<PathBuf>,
    /// Restart now whatever the maintenance windows say.
    #[arg(long)]
    pub ignore_maintenance_windows: bool,
    /// Leave warnings about preStop hooks cratectl cannot read out of the report.
    #[arg(long)]
    pub skip_hook_warning: bool,
    /// Restart only pods on Kubernetes nodes that are cordoned or being taken away (the others
    /// are listed as skipped).
    #[arg(long)]
    pub only_on_suspended_nodes: bool,
    /// Which node groups go first.
    #[arg(long, value_enum, default_value_t = OrderArg::MastersFirst)]
    pub order: OrderArg,
    /// How many clusters are restarted at once (each cluster: one pod at a time, always).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub parallel: u16,
    /// Do not ask for confirmation (needed for `all` without a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// graceful_stop.min_availability for nodes cratectl decommissions itself (pods without a
    /// dc_util hook): NONE, PRIMARIES or FULL [default: the maintenance file's, else PRIMARIES].
    #[arg(long, value_name = "LEVEL", value_parser = parse_min_availability)]
    pub min_availability: Option<MinAvailability>,
    /// Delete pods instead of evicting them (bypasses PodDisruptionBudgets).
    #[arg(long)]
    pub no_eviction: bool,
    #[command(flatten)]
    pub tuning: RestartTuning,
    /// Output format of the report (progress goes to standard error).
    #[arg(short = 'o', long = "output", value_enum, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,
}

/// `cratectl scale`.
#[derive(Debug, Args)]
pub struct ScaleArgs {
    /// The cluster: CrateDB cluster name or resource name.
    #[arg(value_name = "CLUSTER")]
    pub cluster: String,
    /// Target node counts, e.g. `hot=5` or `master=5`.
    #[arg(value_name = "GROUP=N", required = true)]
    pub targets: Vec<String>,
    /// Print the plan and what it would decide now; change nothing, record nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Record the scale and return; `cratectl worker` runs it.
    #[arg(long = "async")]
    pub run_async: bool,
    /// Do not ask for confirmation (scale asks nothing today; accepted for scripts).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Who changes the StatefulSets: auto (the operator when it manages the resource),
    /// operator, direct.
    #[arg(long, value_enum, default_value_t = ScaleModeArg::Auto)]
    pub mode: ScaleModeArg,
    /// With --mode direct on an operator's resource: scale anyway, and set the resource's
    /// counts at the end.
    #[arg(long)]
    pub force_direct: bool,
    /// Start steps only inside the cluster's maintenance windows in FILE.
    #[arg(long, value_name = "FILE", conflicts_with = "ignore_maintenance_windows")]
    pub maintenance_config: Option<PathBuf>,
    /// Ignore maintenance windows.
    #[arg(long)]
    pub ignore_maintenance_windows: bool,
    /// Leave the gateway settings on the command lines as they are.
    #[arg(long)]
    pub no_gateway_patch: bool,
    /// Acknowledge node check 1 on nodes still running the old gateway settings (as the
    /// operator does); without it they are listed in the report.
    #[arg(long)]
    pub ack_node_checks: bool,
    /// Consecutive equal safe readings the stable gate needs.
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub stable_polls: u32,
    /// Time between readings.
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_positive_duration)]
    pub poll_interval: Duration,
    /// Longest wait for stable GREEN.
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = parse_positive_duration)]
    pub health_timeout: Duration,
    /// Longest drain of a group's leaving nodes.
    #[arg(long, value_name = "DURATION", default_value = "6h", value_parser = parse_positive_duration)]
    pub drain_timeout: Duration,
    /// A drain in which no shard copy left a leaving node for this long fails.
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = parse_positive_duration)]
    pub drain_stall_timeout: Duration,
    /// Longest wait for a new node to join, or a removed node's pod to go and the node to leave.
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = parse_positive_duration)]
    pub node_timeout: Duration,
    /// Output format (also a global option).
    #[arg(short = 'o', long = "output", value_enum, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,
}

/// `cratectl completion`.
#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// The shell to complete in.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: CompletionShell,
}

/// The shells `cratectl completion` writes scripts for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
    Powershell,
}

/// `cratectl suspend`.
#[derive(Debug, Args)]
pub struct SuspendArgs {
    /// The cluster: CrateDB cluster name or resource name.
    #[arg(value_name = "CLUSTER")]
    pub cluster: String,
    /// Print what it would do; change nothing, record nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Record the suspend and return; `cratectl worker` runs it.
    #[arg(long = "async")]
    pub run_async: bool,
    /// Do not ask for confirmation (required when standard input is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Who stops the StatefulSets: auto (the operator when it manages the resource),
    /// operator, direct.
    #[arg(long, value_enum, default_value_t = ScaleModeArg::Auto)]
    pub mode: ScaleModeArg,
    /// With --mode direct on an operator's resource: stop the StatefulSets anyway (the
    /// resource keeps its counts).
    #[arg(long)]
    pub force_direct: bool,
    /// Start only inside the cluster's maintenance windows in FILE (the whole cluster goes
    /// down: a window of at least its minimum length).
    #[arg(long, value_name = "FILE", conflicts_with = "ignore_maintenance_windows")]
    pub maintenance_config: Option<PathBuf>,
    /// Ignore maintenance windows.
    #[arg(long)]
    pub ignore_maintenance_windows: bool,
    /// Do not hold cluster.routing.allocation.enable at 'primaries' while suspended.
    #[arg(long)]
    pub no_hold: bool,
    /// Suspend a cluster that is not GREEN.
    #[arg(long)]
    pub allow_unhealthy: bool,
    /// Save the client Service crate-<resource> in the suspend record and delete it once the
    /// data nodes are gone (direct mode; resume recreates it). By default it is kept: no load
    /// balancer churn, the same address after the resume.
    #[arg(long)]
    pub delete_client_service: bool,
    /// Consecutive equal safe readings the stable gate needs.
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub stable_polls: u32,
    /// Time between readings.
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_positive_duration)]
    pub poll_interval: Duration,
    /// Longest wait for stable GREEN before the suspend.
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = parse_positive_duration)]
    pub health_timeout: Duration,
    /// Longest wait for the pods to be gone (per step: data nodes, then masters).
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = parse_positive_duration)]
    pub stop_timeout: Duration,
    /// Output format (also a global option).
    #[arg(short = 'o', long = "output", value_enum, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,
}

/// `cratectl resume`.
#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// The cluster: CrateDB cluster name or resource name.
    #[arg(value_name = "CLUSTER")]
    pub cluster: String,
    /// A group's count, GROUP=N (repeatable; every group, masters included): only without a
    /// suspend record, or equal to it.
    #[arg(long = "replicas", value_name = "GROUP=N")]
    pub replicas: Vec<String>,
    /// Print what it would do; change nothing, record nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Record the resume and return; `cratectl worker` runs it.
    #[arg(long = "async")]
    pub run_async: bool,
    /// Who starts the StatefulSets: auto (the operator when it manages the resource),
    /// operator, direct.
    #[arg(long, value_enum, default_value_t = ScaleModeArg::Auto)]
    pub mode: ScaleModeArg,
    /// With --mode direct on an operator's resource: start the StatefulSets anyway.
    #[arg(long)]
    pub force_direct: bool,
    /// Consecutive equal safe readings the stable gate needs.
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub stable_polls: u32,
    /// Time between readings.
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_positive_duration)]
    pub poll_interval: Duration,
    /// Longest wait for the masters to be Ready and for every node to be back.
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = parse_positive_duration)]
    pub start_timeout: Duration,
    /// Longest wait for every primary to be active.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_positive_duration)]
    pub recovery_timeout: Duration,
    /// Longest wait for stable GREEN at the end.
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = parse_positive_duration)]
    pub health_timeout: Duration,
    /// Output format (also a global option).
    #[arg(short = 'o', long = "output", value_enum, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,
}

/// `cratectl restore`.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The cluster: CrateDB cluster name or resource name.
    #[arg(value_name = "CLUSTER")]
    pub cluster: String,
    /// The snapshot to restore.
    #[arg(long, value_name = "NAME")]
    pub snapshot: String,
    /// Everything: tables, views, users, privileges, UDFs and persistent settings (which
    /// replace the cluster's).
    #[arg(long)]
    pub all: bool,
    /// Views, users, privileges and UDFs, and the snapshot's analyzer settings (CrateDB replaces
    /// the cluster's persistent settings with those).
    #[arg(long)]
    pub metadata: bool,
    /// Every table of the snapshot, nothing else (RESTORE … TABLES).
    #[arg(long)]
    pub tables_all: bool,
    /// A table to restore (repeatable): SCHEMA.TABLE or TABLE.
    #[arg(long = "table", value_name = "TABLE")]
    pub tables: Vec<String>,
    /// A partition to restore (repeatable): TABLE:COL=VALUE[,COL=VALUE…].
    #[arg(long = "partition", value_name = "SPEC")]
    pub partitions: Vec<String>,
    /// A section to restore (repeatable): tables, views, users, privileges, usermanagement,
    /// analyzers, udfs.
    #[arg(long = "section", value_name = "SECTION")]
    pub sections: Vec<String>,
    /// An existing repository (never created or dropped).
    #[arg(long, value_name = "NAME")]
    pub repository: Option<String>,
    /// A Secret (in the cluster's namespace) with an object store's keys: a temporary read-only
    /// repository is created from it and dropped at the end.
    #[arg(long, value_name = "SECRET")]
    pub repository_secret: Option<String>,
    /// The object store of --repository-secret.
    #[arg(long, value_enum, default_value_t = ProviderArg::S3, requires = "repository_secret")]
    pub provider: ProviderArg,
    /// Take the Secret references and the provider from the resource's
    /// spec.cluster.restoreSnapshot (the resource is not changed).
    #[arg(long)]
    pub from_resource: bool,
    /// The temporary repository's max_restore_bytes_per_sec [default: 240mb] (an existing
    /// repository keeps its own).
    #[arg(long, value_name = "RATE")]
    pub max_restore_bytes_per_sec: Option<String>,
    /// indices.recovery.max_bytes_per_sec while the restore runs (restored afterwards).
    #[arg(long, value_name = "RATE", default_value = "200mb")]
    pub recovery_max_bytes_per_sec: String,
    /// cluster.routing.allocation.cluster_concurrent_rebalance while the restore runs.
    #[arg(long, value_name = "N", default_value_t = 6, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub concurrent_rebalance: u32,
    /// Change no setting while the restore runs.
    #[arg(long)]
    pub no_tune: bool,
    /// Internal gc.* tables that exist: auto renames them away first; skip treats them as any
    /// existing table (refused).
    #[arg(long, value_enum, default_value_t = GcTablesArg::Auto)]
    pub gc_tables: GcTablesArg,
    /// Restore a PARTIAL snapshot (its missing shards stay missing).
    #[arg(long)]
    pub allow_partial: bool,
    /// Longest wait for the restore, from the statement until every restored primary is active.
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = parse_positive_duration)]
    pub restore_timeout: Duration,
    /// Longest wait for stable GREEN, before and after the restore.
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = parse_positive_duration)]
    pub health_timeout: Duration,
    /// Consecutive equal safe readings the stable gate needs.
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub stable_polls: u32,
    /// Time between readings.
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_positive_duration)]
    pub poll_interval: Duration,
    /// Print the statement and the checks; change nothing, record nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Record the restore and return; `cratectl worker` runs it.
    #[arg(long = "async")]
    pub run_async: bool,
    /// Do not ask for confirmation (needed for --all, --metadata and user sections without a
    /// terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Start only inside the cluster's maintenance windows in FILE.
    #[arg(long, value_name = "FILE", conflicts_with = "ignore_maintenance_windows")]
    pub maintenance_config: Option<PathBuf>,
    /// Ignore maintenance windows.
    #[arg(long)]
    pub ignore_maintenance_windows: bool,
    /// Output format (also a global option).
    #[arg(short = 'o', long = "output", value_enum, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,
}

/// `--provider`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ProviderArg {
    S3,
    Azure,
}

/// `--gc-tables`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum GcTablesArg {
    Auto,
    Skip,
}

/// `--mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ScaleModeArg {
    Auto,
    Operator,
    Direct,
}

/// The health gate and the per-step limits of a restart.
#[derive(Clone, Debug, Args)]
pub struct RestartTuning {
    /// Consecutive identical safe readings required before a pod is disrupted and after it
    /// rejoined.
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub stable_polls: u32,
    /// Time between the stable gate's health readings, e.g. 2s or 500ms. Until its first safe
    /// reading the gate looks four times as often; a node leaving or rejoining is checked every
    /// half interval (at most 250ms apart).
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_positive_duration)]
    pub poll_interval: Duration,
    /// Longest wait for stable GREEN, before a pod and after it rejoined.
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = parse_positive_duration)]
    pub health_timeout: Duration,
    /// Longest wait for the replacement pod (new UID) to be Ready.
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = parse_positive_duration)]
    pub pod_ready_timeout: Duration,
    /// Longest wait for the restarted CrateDB node to rejoin the cluster.
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_positive_duration)]
    pub rejoin_timeout: Duration,
    /// Longest wait for cratectl's own decommission of a node (pods without a dc_util hook).
    #[arg(long, value_name = "DURATION", default_value = "2h", value_parser = parse_positive_duration)]
    pub decommission_timeout: Duration,
    /// Longest wait while a PodDisruptionBudget refuses an eviction.
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = parse_positive_duration)]
    pub eviction_timeout: Duration,
    /// How long allocation stays held at `primaries` while the pod being restarted has not
    /// rejoined. Then the setting is restored so CrateDB rebuilds the replicas the node held
    /// (the report says so), and the restart goes on waiting for the node; the hold is taken
    /// again before the next pod.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_positive_duration)]
    pub hold_timeout: Duration,
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Restarts (cluster workflows) run at once.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub max_concurrent_workflows: u16,
    /// Activities (readings, waits, side effects) run at once.
    #[arg(long, value_name = "N", default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=4096))]
    pub max_concurrent_activities: u16,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The operation's id, as the command that started it printed it (e.g.
    /// restart-prod-eu-20261206T071500Z), or one cluster's id within it.
    #[arg(value_name = "ID")]
    pub id: String,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,
}

/// `list --state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum StateFilter {
    Running,
    Completed,
    Failed,
    Cancelled,
}

#[derive(Debug, Args)]
pub struct ListWorkflowsArgs {
    /// Show at most N operations (the newest).
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub limit: usize,
    /// Only operations in this state.
    #[arg(long, value_enum)]
    pub state: Option<StateFilter>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,
}

#[derive(Debug, Args)]
pub struct CancelArgs {
    /// The operation's id (or one cluster's id within it).
    #[arg(value_name = "ID")]
    pub id: String,
    /// Why, recorded with the cancellation.
    #[arg(long, value_name = "TEXT", default_value = "Cancelled via CLI")]
    pub reason: String,
    /// Restores only: first drop the whole tables the restore created (CrateDB's way to cancel a
    /// restore, after which its temporary repository can be dropped). Renamed internal gc.*
    /// tables are never dropped (their originals come back); restored partitions stay (drop one
    /// with DELETE FROM … WHERE its partition columns match).
    #[arg(long)]
    pub drop_restored: bool,
}

#[derive(Debug, Args)]
pub struct ForceRestartArgs {
    /// The operation's id (or one cluster's id within it).
    #[arg(value_name = "ID")]
    pub id: String,
    /// Why, recorded in the report's window field.
    #[arg(long, value_name = "TEXT", default_value = "Operator override via CLI")]
    pub reason: String,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// The operation's id (or one cluster's id within it).
    #[arg(value_name = "ID")]
    pub id: String,
    /// Why, recorded in the report.
    #[arg(long, value_name = "TEXT", default_value = "Operator stop via CLI")]
    pub reason: String,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Output format of the final report.
    #[arg(short = 'o', long = "output", value_enum, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,
}

/// How results are printed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Human-readable text.
    #[default]
    Text,
    /// JSON (a stable contract for scripts).
    Json,
    /// YAML (same fields as JSON).
    Yaml,
}

#[derive(Debug, Subcommand)]
pub enum MaintenanceCommand {
    /// Is CLUSTER in a maintenance window at TIME, and should an operation wait?
    ///
    /// Prints the decision a restart would act on: whether a window is open, whether there is
    /// enough time left in it (min_window_duration, or --needed if larger), why, and when the
    /// next window opens. Exits 0 whatever the decision; 2 for an invalid file, an unknown
    /// cluster (no table and no [defaults]) or a bad --at.
    #[command(
        after_help = "Examples:\n  cratectl maintenance check maintenance.toml prod-eu\n  \
        cratectl maintenance check maintenance.toml prod-eu --at 2026-12-24T21:00:00+01:00 -o json"
    )]
    Check(CheckArgs),

    /// Lists every window of every cluster in CONFIG.
    ListWindows(ListWindowsArgs),

    /// Shows the next openings of CLUSTER with UTC and local times: the "why is it closed" view.
    ///
    /// An opening in progress is listed first. Openings are cut by blackouts; a cut one is
    /// marked.
    Next(NextArgs),

    /// Writes a commented sample configuration that passes validation.
    CreateConfig(CreateConfigArgs),

    /// Validates CONFIG: exit 0 with a summary, or 2 with every error found.
    Validate(ValidateArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The maintenance configuration file (TOML).
    pub config: PathBuf,
    /// The cluster name (the CrateDB resource's spec.cluster.name, else its metadata.name).
    pub cluster: String,
    /// The instant to decide for, RFC 3339 with an offset or Z (default: now).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub at: Option<Timestamp>,
    /// Open time the operation needs, e.g. 45m or 1h30m; the decision uses the larger of this
    /// and the cluster's min_window_duration.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub needed: Option<SignedDuration>,
    /// Output format [default: text].
    #[arg(short = 'o', long = "output", value_enum, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,
}

#[derive(Debug, Args)]
pub struct ListWindowsArgs {
    /// The maintenance configuration file (TOML).
    pub config: PathBuf,
    /// Output format [default: text].
    #[arg(short = 'o', long = "output", value_enum, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,
}

#[derive(Debug, Args)]
pub struct NextArgs {
    /// The maintenance configuration file (TOML).
    pub config: PathBuf,
    /// The cluster name.
    pub cluster: String,
    /// Start from this instant, RFC 3339 with an offset or Z (default: now).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub at: Option<Timestamp>,
    /// How many openings to show (1 to 1000).
    #[arg(long, short = 'n', default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub count: u16,
    /// Output format [default: text].
    #[arg(short = 'o', long = "output", value_enum, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,
}

#[derive(Debug, Args)]
pub struct CreateConfigArgs {
    /// Where to write the sample; `-` writes to standard output.
    #[arg(
        short = 'o',
        long = "output",
        value_name = "FILE",
        default_value = "maintenance-windows.toml"
    )]
    pub output: PathBuf,
    /// Overwrite FILE if it exists.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The maintenance configuration file (TOML).
    pub config: PathBuf,
    /// Output format [default: text].
    #[arg(short = 'o', long = "output", value_enum, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,
}

/// `--at`: RFC 3339 with an offset or `Z`. A time without an offset is refused rather than
/// guessed.
fn parse_time(text: &str) -> Result<Timestamp, String> {
    text.parse::<Timestamp>().map_err(|_| {
        format!("expected RFC 3339 with an offset or Z, e.g. 2026-01-15T19:30:00Z or 2026-01-15T20:30:00+01:00 (got \"{text}\")")
    })
}

/// `--needed`: a non-negative duration such as `45m`, `1h30m` or `PT2H`.
fn parse_duration(text: &str) -> Result<SignedDuration, String> {
    match text.parse::<SignedDuration>() {
        Ok(d) if !d.is_negative() => Ok(d),
        Ok(_) => Err(format!("the duration must not be negative (got \"{text}\")")),
        Err(_) => Err(format!(
            "expected a duration such as 45m, 1h30m or 2h (got \"{text}\")"
        )),
    }
}

/// `--poll-interval`, `--*-timeout`: a positive duration such as `500ms`, `90s`, `15m`, `2h`
/// or `1h30m`.
fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    let signed = parse_duration(text)?;
    match Duration::try_from(signed) {
        Ok(d) if !d.is_zero() => Ok(d),
        _ => Err(format!("the duration must be more than zero (got \"{text}\")")),
    }
}

/// `--min-availability`: NONE, PRIMARIES or FULL, in any case.
fn parse_min_availability(text: &str) -> Result<MinAvailability, String> {
    MinAvailability::parse(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn times_need_an_offset() {
        assert_eq!(
            parse_time("2024-01-01T19:00:00Z").unwrap().to_string(),
            "2024-01-01T19:00:00Z"
        );
        assert_eq!(
            parse_time("2024-01-01T20:00:00+01:00").unwrap().to_string(),
            "2024-01-01T19:00:00Z"
        );
        assert!(
            parse_time("2024-01-01T19:00:00")
                .unwrap_err()
                .contains("with an offset")
        );
        assert!(parse_time("tomorrow").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("45m").unwrap(), SignedDuration::from_mins(45));
        assert_eq!(parse_duration("1h30m").unwrap(), SignedDuration::from_mins(90));
        assert_eq!(parse_duration("PT2H").unwrap(), SignedDuration::from_hours(2));
        assert!(parse_duration("-5m").is_err());
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn restart_durations_are_positive() {
        assert_eq!(
            parse_positive_duration("200ms").unwrap(),
            Duration::from_millis(200)
        );
        assert_eq!(parse_positive_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_positive_duration("2h").unwrap(), Duration::from_secs(7200));
        assert!(
            parse_positive_duration("0s")
                .unwrap_err()
                .contains("more than zero")
        );
        assert!(parse_positive_duration("fast").unwrap_err().contains("45m"));
    }

    #[test]
    fn restart_flags_map_onto_the_workflow_options() {
        let cli = Cli::try_parse_from([
            "cratectl",
            "restart",
            "a",
            "b",
            "--order",
            "data-first",
            "--min-availability",
            "full",
            "--poll-interval",
            "200ms",
            "--parallel",
            "2",
        ])
        .unwrap();
        let Command::Restart(args) = cli.command else {
            panic!("not restart");
        };
        assert_eq!(args.clusters, ["a", "b"]);
        assert_eq!(Order::from(args.order), Order::DataFirst);
        assert_eq!(args.min_availability, Some(MinAvailability::Full));
        assert_eq!(args.tuning.poll_interval, Duration::from_millis(200));
        assert_eq!(args.tuning.stable_polls, 3);
        assert_eq!(args.tuning.decommission_timeout, Duration::from_secs(7200));
        assert_eq!(args.parallel, 2);
        assert!(Cli::try_parse_from(["cratectl", "restart", "a", "--poll-interval", "soon"]).is_err());
        assert!(Cli::try_parse_from(["cratectl", "restart"]).is_err());
        assert!(Cli::try_parse_from(["cratectl", "list-workflows", "--state", "failed"]).is_ok());
        assert!(Cli::try_parse_from(["cratectl", "force", "restart-x-20261207T000000Z"]).is_ok());
    }
}
