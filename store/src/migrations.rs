//! The versioned ClickHouse schema and the runner `frictionctl migrate` uses.
//!
//! Every statement is idempotent (`IF [NOT] EXISTS`), and each applied migration is recorded
//! in `schema_migrations` (a ReplacingMergeTree keyed by version). Two runners racing
//! therefore both end with the same schema and one record per version; a migration whose
//! text changed after it was applied is refused instead of silently skipped.

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
}

/// Applies every migration not applied yet to `database` (created if missing) and returns
/// the versions it applied.
pub async fn migrate(client: &Client, database: &str) -> Result<Vec<u32>, MigrationError> {
    if database.is_empty()
        || !database
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Err(MigrationError::InvalidDatabase(database.to_owned()));
    }
    tolerate_exists(
        client
            .query(&format!("CREATE DATABASE IF NOT EXISTS {database}"))
            .execute()
            .await,
    )?;
    let client = client.clone().with_database(database);
    tolerate_exists(
        client
            .query(
                "CREATE TABLE IF NOT EXISTS schema_migrations (
                    version UInt32, name String, checksum String, applied_at DateTime64(3, 'UTC')
                ) ENGINE = ReplacingMergeTree(applied_at) ORDER BY version",
            )
            .execute()
            .await,
    )?;
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
        for statement in migration.statements() {
            tolerate_exists(client.query(statement).execute().await).map_err(|source| {
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
}
