//! The versioned ClickHouse schema and the runner `frictionctl migrate` uses.
//!
//! Every statement is idempotent (`IF [NOT] EXISTS`), and each applied migration is recorded
//! in `schema_migrations` (a ReplacingMergeTree keyed by version). Two runners racing
//! therefore both end with the same schema and one record per version; a migration whose
//! text changed after it was applied is refused instead of silently skipped.
//!
//! On a ClickHouse cluster ([`Layout::Cluster`]) the same migrations are rewritten as they
//! run: every statement `ON CLUSTER`, every MergeTree-family engine its `Replicated` twin
//! (replica paths from the servers' defaults and macros), and beside each event and
//! rollup table a `<table>_all` `Distributed` table that reads every shard.

use clickhouse::{Client, Row};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::clickhouse_error;

/// One migration file.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Ordering and identity.
    pub version: u32,
    /// Short name, from the file name.
    pub name: &'static str,
    /// Statements separated by `;` at the end of a line.
    pub sql: &'static str,
}

macro_rules! migrations {
    ($($version:literal => $name:literal),* $(,)?) => {
        /// Every migration, in order.
        pub const MIGRATIONS: &[Migration] = &[$(Migration {
            version: $version,
            name: $name,
            sql: include_str!(concat!("../migrations/", $name, ".sql")),
        }),*];
    };
}

migrations! {
    1 => "0001_events",
    2 => "0002_control_plane",
    3 => "0003_rollups",
    4 => "0004_users",
    5 => "0005_uploads",
    6 => "0006_exports",
    7 => "0007_console_sessions",
}

/// Where the schema goes: one server, or every node of a named cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout<'a> {
    /// A single server (tables as the migration files write them).
    Single,
    /// The cluster of this name in the servers' `remote_servers`.
    Cluster(&'a str),
}

/// Tables analysts read across shards, and how rows of each are spread when written
/// through the `Distributed` table.
const DISTRIBUTED: [(&str, &str); 6] = [
    ("friction_events", "cityHash64(session_id)"),
    ("heatmap_data", "cityHash64(session_id)"),
    ("page_performance_metrics", "cityHash64(session_id)"),
    ("friction_hourly", "rand()"),
    ("performance_hourly", "rand()"),
    ("heatmap_points_daily", "rand()"),
];

/// Why migrating failed.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    /// ClickHouse refused a statement or was unreachable.
    #[error("migration {version} ({name}) failed: {source}")]
    Statement {
        /// The migration.
        version: u32,
        /// Its name.
        name: &'static str,
        /// The ClickHouse error.
        source: clickhouse::error::Error,
    },
    /// Reading or writing `schema_migrations` failed.
    #[error("cannot read or record applied migrations: {0}")]
    Bookkeeping(#[from] clickhouse::error::Error),
    /// An applied migration's text changed since.
    #[error("migration {version} ({name}) was applied with a different text (checksum {applied}, file {file}); add a new migration instead of editing it")]
    Changed {
        /// The migration.
        version: u32,
        /// Its name.
        name: &'static str,
        /// Checksum recorded when applied.
        applied: String,
        /// Checksum of the file now.
        file: String,
    },
    /// The database name is not a plain identifier.
    #[error("invalid database name {0:?}")]
    InvalidDatabase(String),
    /// The cluster name is not a plain identifier.
    #[error("invalid cluster name {0:?}")]
    InvalidCluster(String),
}

#[derive(Debug, Row, Serialize, Deserialize)]
struct Applied {
    version: u32,
    name: String,
    checksum: String,
    applied_at: i64,
}

impl Migration {
    /// Hex SHA-256 of the text.
    pub fn checksum(&self) -> String {
        friction_schema::hex(&Sha256::digest(self.sql.as_bytes()))
    }

    /// The statements of the migration.
    pub fn statements(&self) -> impl Iterator<Item = &'static str> {
        self.sql.split(";\n").map(str::trim).filter(|s| {
            s.lines()
                .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with("--"))
        })
    }

    /// The statements as they run for `layout`.
    pub fn statements_for(&self, layout: Layout<'_>) -> Vec<String> {
        match layout {
            Layout::Single => self.statements().map(str::to_owned).collect(),
            Layout::Cluster(cluster) => self
                .statements()
                .flat_map(|s| on_cluster(s, cluster))
                .collect(),
        }
    }
}

/// `statement` rewritten for `cluster`, followed by the `Distributed` table it needs.
fn on_cluster(statement: &str, cluster: &str) -> Vec<String> {
    const HEADS: [&str; 4] = [
        "CREATE TABLE IF NOT EXISTS ",
        "CREATE MATERIALIZED VIEW IF NOT EXISTS ",
        "CREATE DATABASE IF NOT EXISTS ",
        "ALTER TABLE ",
    ];
    let mut out = String::with_capacity(statement.len() + 64);
    let mut created = None;
    for line in statement.lines() {
        let head = HEADS.iter().find(|h| line.starts_with(*h));
        let line = match head {
            Some(head) => {
                let rest = &line[head.len()..];
                let name_len = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                let name = &rest[..name_len];
                if head.starts_with("CREATE TABLE") {
                    created = Some(name);
                }
                format!("{head}{name} ON CLUSTER {cluster}{}", &rest[name_len..])
            }
            None => replicated_engine(line),
        };
        out.push_str(&line);
        out.push('\n');
    }
    let mut statements = vec![out.trim_end().to_owned()];
    if let Some((table, key)) = created.and_then(|t| DISTRIBUTED.iter().find(|(d, _)| *d == t)) {
        statements.push(format!(
            "CREATE TABLE IF NOT EXISTS {table}_all ON CLUSTER {cluster} AS {table}\n\
             ENGINE = Distributed({cluster}, currentDatabase(), {table}, {key})"
        ));
    }
    statements
}

/// An `ENGINE = …MergeTree(…)` line with the engine's `Replicated` twin, and the
/// deduplication window setting of replicated tables; any other line as it is.
fn replicated_engine(line: &str) -> String {
    let line = line.replace(
        "non_replicated_deduplication_window",
        "replicated_deduplication_window",
    );
    match line.strip_prefix("ENGINE = ") {
        Some(engine) if !engine.starts_with("Replicated") => {
            let name_len = engine
                .find(|c: char| !c.is_ascii_alphanumeric())
                .unwrap_or(engine.len());
            match engine[..name_len].ends_with("MergeTree") {
                true => format!("ENGINE = Replicated{engine}"),
                false => line,
            }
        }
        _ => line,
    }
}

fn identifier(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The statements that create `database` and its `schema_migrations` table.
pub fn bootstrap(database: &str, layout: Layout<'_>) -> (String, String) {
    let rewrite = |statement: String| match layout {
        Layout::Single => statement,
        // Neither is a table read across shards: one statement each.
        Layout::Cluster(cluster) => on_cluster(&statement, cluster).remove(0),
    };
    (
        rewrite(format!("CREATE DATABASE IF NOT EXISTS {database}")),
        rewrite(
            "CREATE TABLE IF NOT EXISTS schema_migrations\n\
             (version UInt32, name String, checksum String, applied_at DateTime64(3, 'UTC'))\n\
             ENGINE = ReplacingMergeTree(applied_at)\nORDER BY version"
                .to_owned(),
        ),
    )
}

/// Applies every migration not applied yet to `database` (created if missing), laid out
/// as `layout` says, and returns the versions it applied.
pub async fn migrate(
    client: &Client,
    database: &str,
    layout: Layout<'_>,
) -> Result<Vec<u32>, MigrationError> {
    if !identifier(database) {
        return Err(MigrationError::InvalidDatabase(database.to_owned()));
    }
    if let Layout::Cluster(cluster) = layout {
        if !identifier(cluster) {
            return Err(MigrationError::InvalidCluster(cluster.to_owned()));
        }
    }
    let (create_database, create_bookkeeping) = bootstrap(database, layout);
    tolerate_exists(client.query(&create_database).execute().await)?;
    let client = client.clone().with_database(database);
    tolerate_exists(client.query(&create_bookkeeping).execute().await)?;
    let applied: Vec<Applied> = client
        .query("SELECT ?fields FROM schema_migrations FINAL ORDER BY version")
        .fetch_all()
        .await?;

    let mut done = Vec::new();
    for migration in MIGRATIONS {
        let checksum = migration.checksum();
        if let Some(a) = applied.iter().find(|a| a.version == migration.version) {
            if a.checksum != checksum {
                return Err(MigrationError::Changed {
                    version: migration.version,
                    name: migration.name,
                    applied: a.checksum.clone(),
                    file: checksum,
                });
            }
            continue;
        }
        for statement in migration.statements_for(layout) {
            tolerate_exists(client.query(&statement).execute().await).map_err(|source| {
                MigrationError::Statement {
                    version: migration.version,
                    name: migration.name,
                    source,
                }
            })?;
        }
        let mut insert = client.insert::<Applied>("schema_migrations").await?;
        insert
            .write(&Applied {
                version: migration.version,
                name: migration.name.to_owned(),
                checksum,
                applied_at: friction_schema::now_ms(),
            })
            .await?;
        insert.end().await?;
        done.push(migration.version);
    }
    Ok(done)
}

/// A racing runner's "already exists": the object exists either way, which is what was asked.
fn tolerate_exists(result: clickhouse::error::Result<()>) -> clickhouse::error::Result<()> {
    match result {
        Err(e) if clickhouse_error::is_already_exists(&e) => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_ordered_and_split_into_statements() {
        for pair in MIGRATIONS.windows(2) {
            assert!(pair[0].version < pair[1].version);
        }
        for m in MIGRATIONS {
            assert!(m.statements().count() > 0, "{} has no statements", m.name);
            for s in m.statements() {
                assert!(
                    s.contains("IF NOT EXISTS") || s.contains("IF EXISTS"),
                    "{}: not idempotent: {s}",
                    m.name
                );
            }
        }
    }

    #[test]
    fn the_single_server_layout_is_the_files_text() {
        for m in MIGRATIONS {
            let single = m.statements_for(Layout::Single);
            assert_eq!(single, m.statements().collect::<Vec<_>>());
            assert!(single.iter().all(|s| !s.contains("ON CLUSTER")));
        }
    }

    #[test]
    fn the_cluster_layout_is_replicated_and_distributed_on_the_cluster() {
        let all: Vec<String> = MIGRATIONS
            .iter()
            .flat_map(|m| m.statements_for(Layout::Cluster("events")))
            .collect();
        for statement in &all {
            let head = statement
                .lines()
                .find(|l| !l.trim().is_empty() && !l.starts_with("--"))
                .unwrap();
            assert!(head.contains(" ON CLUSTER events"), "{head}");
            assert!(
                statement.contains("IF NOT EXISTS") || statement.contains("IF EXISTS"),
                "not idempotent: {statement}"
            );
            for line in statement.lines().filter(|l| l.starts_with("ENGINE = ")) {
                let engine = &line["ENGINE = ".len()..];
                assert!(
                    engine.starts_with("Replicated")
                        || engine.starts_with("Distributed(events, currentDatabase(), ")
                        || engine.starts_with("Join("),
                    "not replicated: {line}"
                );
            }
            assert!(!statement.contains("non_replicated_deduplication_window"));
        }
        for (table, key) in DISTRIBUTED {
            let created = all
                .iter()
                .position(|s| s.contains(&format!("CREATE TABLE IF NOT EXISTS {table} ON CLUSTER")))
                .unwrap_or_else(|| panic!("{table} is not created"));
            assert_eq!(
                all[created + 1],
                format!(
                    "CREATE TABLE IF NOT EXISTS {table}_all ON CLUSTER events AS {table}\n\
                     ENGINE = Distributed(events, currentDatabase(), {table}, {key})"
                ),
                "{table} has its Distributed table right after it"
            );
        }
        let mv = all
            .iter()
            .find(|s| s.contains("friction_hourly_mv"))
            .unwrap();
        assert!(mv.contains(
            "CREATE MATERIALIZED VIEW IF NOT EXISTS friction_hourly_mv ON CLUSTER events TO friction_hourly AS"
        ));
        let alter = all
            .iter()
            .find(|s| s.contains("ALTER TABLE api_keys"))
            .unwrap();
        assert!(alter.contains("ALTER TABLE api_keys ON CLUSTER events ADD COLUMN"));
        let (database, bookkeeping) = bootstrap("friction", Layout::Cluster("events"));
        assert_eq!(
            database,
            "CREATE DATABASE IF NOT EXISTS friction ON CLUSTER events"
        );
        assert!(bookkeeping.contains("ENGINE = ReplicatedReplacingMergeTree(applied_at)"));
    }

    #[test]
    fn engines_become_their_replicated_twins() {
        for (single, cluster) in [
            (
                "ENGINE = ReplacingMergeTree(received_at)",
                "ENGINE = ReplicatedReplacingMergeTree(received_at)",
            ),
            (
                "ENGINE = AggregatingMergeTree",
                "ENGINE = ReplicatedAggregatingMergeTree",
            ),
            ("ENGINE = MergeTree", "ENGINE = ReplicatedMergeTree"),
            (
                "ENGINE = Join(ANY, LEFT, owner_id, event_id)",
                "ENGINE = Join(ANY, LEFT, owner_id, event_id)",
            ),
            (
                "ORDER BY (owner_id, event_id)",
                "ORDER BY (owner_id, event_id)",
            ),
        ] {
            assert_eq!(replicated_engine(single), cluster);
        }
    }
}
