//! `frictionctl`: the operator CLI. Reads the same config as the services
//! (`FRICTION_*` env vars, optional `FRICTION_CONFIG` TOML file).
//!
//! Exit codes: 0 success, 1 the operation failed, 2 a bad command line, 78 a bad
//! configuration.

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use friction_service::cli::EXIT_CONFIG;
use friction_store::users::{self, Role};
use friction_store::{keys, migrations, objects};
use frictionctl::{topics, CtlConfig};
use uuid::Uuid;

#[derive(Parser)]
#[command(
    name = "frictionctl",
    about = "Operate a friction deployment",
    after_help = "Configured like the services, by FRICTION_* variables (docs/configuration.md).\n\
                  Exit codes: 0 success, 1 the operation failed, 2 bad command line, 78 bad configuration."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// How lists are printed.
#[derive(Clone, Copy, ValueEnum)]
enum Output {
    /// Tab-separated columns under a header line.
    Table,
    /// One JSON array of objects (secrets and hashes are never included).
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Apply pending ClickHouse migrations (idempotent).
    Migrate {
        /// Lay the schema out on this cluster (from the servers' `remote_servers`): every
        /// statement ON CLUSTER, Replicated engines, and `<table>_all` Distributed tables.
        #[arg(long)]
        cluster: Option<String>,
        /// Print every statement the migrations would run, in order, and run nothing.
        #[arg(long)]
        print: bool,
    },
    /// Create the Kafka topics (idempotent).
    Topics {
        /// Partitions of each topic: the most consumers that can share its load.
        #[arg(long, default_value_t = 6)]
        partitions: i32,
        /// Copies of each partition (3 on a production cluster).
        #[arg(long, default_value_t = 1)]
        replication: i32,
    },
    /// Create the object-storage buckets (idempotent).
    Buckets,
    /// Manage API keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Manage users of the admin API and their tokens.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
}

#[derive(Subcommand)]
enum UsersCommand {
    /// Create a user and print their bearer token (shown only once).
    Create {
        /// E-mail address, unique among users.
        #[arg(long)]
        email: String,
        /// `member` (own keys and exports) or `admin` (everything).
        #[arg(long, value_parser = ["member", "admin"], default_value = "member")]
        role: String,
    },
    /// List users.
    List {
        /// `table` (tab-separated) or `json`.
        #[arg(long, value_enum, default_value_t = Output::Table)]
        output: Output,
    },
    /// Disable a user (by id or e-mail): their token is refused at once.
    Disable {
        /// The user's id or e-mail.
        user: String,
    },
    /// Enable a user (by id or e-mail).
    Enable {
        /// The user's id or e-mail.
        user: String,
    },
    /// Replace a user's token (by id or e-mail) and print the new one.
    Token {
        /// The user's id or e-mail.
        user: String,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create a key and print it (shown only once).
    Create {
        /// Human name, e.g. the site (1 to 100 characters).
        #[arg(long)]
        name: String,
        /// The user who owns the key (id or e-mail); their id is stored with every event.
        #[arg(long)]
        owner: String,
        /// Comma-separated allowed origins (`example.com`, `*.example.com`); empty allows all.
        #[arg(long, value_delimiter = ',')]
        domains: Vec<String>,
        /// Requests per minute (1 to 1,000,000).
        #[arg(long, default_value_t = friction_schema::api_key::DEFAULT_RATE_LIMIT_PER_MINUTE)]
        rate_limit: u32,
    },
    /// List keys.
    List {
        /// Only the keys of this owner (user id).
        #[arg(long)]
        owner: Option<String>,
        /// `table` (tab-separated) or `json`.
        #[arg(long, value_enum, default_value_t = Output::Table)]
        output: Output,
    },
    /// Disable a key by id: ingest refuses it within the key cache's TTL.
    Disable {
        /// The key's id (as `keys list` shows it).
        key_id: Uuid,
    },
    /// Enable a key by id.
    Enable {
        /// The key's id.
        key_id: Uuid,
    },
    /// Delete a key by id.
    Delete {
        /// The key's id.
        key_id: Uuid,
    },
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let matches = Cli::command()
        .version(friction_service::cli::version())
        .get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let config: CtlConfig = match friction_service::config::load() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("frictionctl: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    match run(config, cli.command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("frictionctl: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: CtlConfig, command: Command) -> Result<(), Box<dyn std::error::Error>> {
    let ch = config.clickhouse.client();
    match command {
        Command::Migrate { cluster, print } => {
            let layout = match &cluster {
                Some(name) => migrations::Layout::Cluster(name),
                None => migrations::Layout::Single,
            };
            let database = &config.clickhouse.clickhouse_database;
            if print {
                let (create_database, create_bookkeeping) = migrations::bootstrap(database, layout);
                println!("{create_database};\n\n{create_bookkeeping};\n");
                for migration in migrations::MIGRATIONS {
                    println!("-- {} {}", migration.version, migration.name);
                    for statement in migration.statements_for(layout) {
                        println!("{statement};\n");
                    }
                }
                return Ok(());
            }
            let applied =
                migrations::migrate(&config.clickhouse.server_client(), database, layout).await?;
            println!("applied {} migration(s) {applied:?}", applied.len());
        }
        Command::Topics {
            partitions,
            replication,
        } => {
            let created = topics::ensure(&config.kafka, partitions, replication).await?;
            println!("created topics {created:?}");
        }
        Command::Buckets => {
            let created = objects::ensure_buckets(&config.s3).await?;
            println!("created buckets {created:?}");
        }
        Command::Users { command } => users_command(&ch, command).await?,
        Command::Keys { command } => match command {
            KeysCommand::Create {
                name,
                owner,
                domains,
                rate_limit,
            } => {
                // The owner is a user, named by id or e-mail; the key stores its id.
                let owner = users::get(&ch, &owner).await?;
                let new = keys::NewKey {
                    name,
                    owner_id: owner.user_id.to_string(),
                    allowed_domains: domains.into_iter().filter(|d| !d.is_empty()).collect(),
                    rate_limit_per_minute: rate_limit,
                };
                let (key, row) = keys::create(&ch, new).await?;
                eprintln!("created key {} for owner {}", row.key_id, row.owner_id);
                println!("{key}");
            }
            KeysCommand::List { owner, output } => {
                let keys = keys::list(&ch, owner.as_deref()).await?;
                match output {
                    Output::Json => {
                        let list: Vec<_> = keys
                            .iter()
                            .map(|k| {
                                serde_json::json!({
                                    "key_id": k.key_id,
                                    "key_prefix": k.key_prefix,
                                    "owner_id": k.owner_id,
                                    "name": k.name,
                                    "active": k.active,
                                    "rate_limit_per_minute": k.rate_limit_per_minute,
                                    "allowed_domains": k.allowed_domains,
                                    "created_at": k.created_at,
                                    "updated_at": k.updated_at,
                                })
                            })
                            .collect();
                        println!("{}", serde_json::Value::Array(list));
                    }
                    Output::Table => {
                        println!("KEY_ID\tPREFIX\tOWNER\tNAME\tACTIVE\tRATE_LIMIT\tDOMAINS");
                        for k in keys {
                            println!(
                                "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                                k.key_id,
                                k.key_prefix,
                                k.owner_id,
                                k.name,
                                k.active,
                                k.rate_limit_per_minute,
                                k.allowed_domains.join(",")
                            );
                        }
                    }
                }
            }
            KeysCommand::Disable { key_id } => {
                keys::set_active(&ch, key_id, false).await?;
                println!("disabled {key_id}");
            }
            KeysCommand::Enable { key_id } => {
                keys::set_active(&ch, key_id, true).await?;
                println!("enabled {key_id}");
            }
            KeysCommand::Delete { key_id } => {
                keys::delete(&ch, key_id).await?;
                println!("deleted {key_id}");
            }
        },
    }
    Ok(())
}

async fn users_command(
    ch: &clickhouse::Client,
    command: UsersCommand,
) -> Result<(), Box<dyn std::error::Error>> {
    match command {
        UsersCommand::Create { email, role } => {
            let role = Role::parse(&role).ok_or("role must be member or admin")?;
            let (token, row) = users::create(ch, &email, role).await?;
            eprintln!("created {} user {} ({})", row.role, row.user_id, row.email);
            println!("{token}");
        }
        UsersCommand::List { output } => {
            let users = users::list(ch).await?;
            match output {
                Output::Json => {
                    let list: Vec<_> = users
                        .iter()
                        .map(|u| {
                            serde_json::json!({
                                "user_id": u.user_id,
                                "email": u.email,
                                "role": u.role,
                                "active": u.active,
                                "created_at": u.created_at,
                                "updated_at": u.updated_at,
                            })
                        })
                        .collect();
                    println!("{}", serde_json::Value::Array(list));
                }
                Output::Table => {
                    println!("USER_ID\tEMAIL\tROLE\tACTIVE");
                    for u in users {
                        println!("{}\t{}\t{}\t{}", u.user_id, u.email, u.role, u.active);
                    }
                }
            }
        }
        UsersCommand::Disable { user } => {
            let row = users::set_active(ch, &user, false).await?;
            println!("disabled {}", row.user_id);
        }
        UsersCommand::Enable { user } => {
            let row = users::set_active(ch, &user, true).await?;
            println!("enabled {}", row.user_id);
        }
        UsersCommand::Token { user } => {
            let (token, row) = users::rotate_token(ch, &user).await?;
            eprintln!(
                "new token for {} ({}); the old one no longer works",
                row.user_id, row.email
            );
            println!("{token}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_and_argument_is_explained() {
        fn check(command: &clap::Command, path: &str) {
            for arg in command.get_arguments() {
                let id = arg.get_id().as_str();
                if id != "help" && id != "version" {
                    assert!(arg.get_help().is_some(), "{path} {id} has no help text");
                }
            }
            for sub in command.get_subcommands() {
                let path = format!("{path} {}", sub.get_name());
                assert!(sub.get_about().is_some(), "{path} has no help text");
                check(sub, &path);
            }
        }
        Cli::command().debug_assert();
        check(&Cli::command(), "frictionctl");
    }
}
