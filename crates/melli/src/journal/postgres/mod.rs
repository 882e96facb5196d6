//! The issuance journal on a PostgreSQL server: the one queue that many stations share.
//!
//! SQLite stays the embedded default (`--journal FILE.db`); `--journal postgres://…` (or
//! `MELLI_JOURNAL`) names a server instead. This module is the foundation: what a `--journal`
//! string names ([`JournalUrl`], which never shows a password), connecting with a timeout, and
//! the versioned schema ([`schema`]) that `melli journal migrate` creates and upgrades.
//!
//! - `url`: parsing and showing connection strings;
//! - `schema`: the tables and their migrations.
//!
//! Every message made here goes through [`PgTarget::redact`] and the terminal escaping, and
//! names the server by [`PgTarget`]'s Display: the password never reaches the user's screen,
//! whatever the server or the client crate put in their errors.

mod local_log;
mod progress;
mod queue;
mod records;
pub mod schema;
mod tls;
mod url;

use std::error::Error as _;

use ::postgres::error::SqlState;
use ::postgres::Client;

use crate::display::escaped;

pub use local_log::{LocalLog, LocalLogError, Pending, MAX_LOCAL_LOG_BYTES};
pub use progress::{Failure, Progress, StationProgress};
pub use queue::{
    ConnectionWatch, PgQueue, Reconciled, StationOptions, StationPool, DEFAULT_LEASE,
    DEFAULT_RECONNECT_FOR,
};
pub use schema::{Migrated, SCHEMA_VERSION};
pub use tls::{SslMode, TlsOptions, MAX_ROOT_CERT_BYTES};
pub use url::{JournalUrl, PgTarget, UrlError, CONNECT_TIMEOUT, DEFAULT_SOCKET_DIR};

/// What can go wrong with a journal on PostgreSQL. Every text in it is already redacted and
/// escaped.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// No server answered: down, a wrong host, port or socket directory, a timeout.
    #[error(
        "cannot reach the PostgreSQL server of the journal {target}: {reason} — check that the \
         server runs, and the host, port or socket directory"
    )]
    Unreachable { target: String, reason: String },
    /// The server answered and refused: a wrong password or user, no such database, not
    /// allowed from here.
    #[error(
        "the PostgreSQL server of the journal {target} refused the connection: {reason} — check \
         the user, password and database name"
    )]
    Refused { target: String, reason: String },
    #[error(
        "the journal {target} has schema version {found}, this melli knows up to \
         {SCHEMA_VERSION}: use a newer melli"
    )]
    TooNew { target: String, found: i32 },
    #[error(
        "the journal {target} has no melli schema{}: run melli journal migrate --journal URL first",
        .found.map(|v| format!(" of version {SCHEMA_VERSION} (it has {v})")).unwrap_or_default()
    )]
    NotMigrated { target: String, found: Option<i32> },
    #[error(
        "the database of the journal {target} has tables of another program ({tables}): give \
         melli a database of its own"
    )]
    Foreign { target: String, tables: String },
    #[error("journal {target}: {reason}")]
    Sql { target: String, reason: String },
    /// No TLS where the connection string asks for it, a server certificate that fails the
    /// check, an unusable `sslrootcert`, or a server that takes only TLS when the string
    /// disables it. The reason says what failed and what to do.
    #[error("TLS with the PostgreSQL server of the journal {target}: {reason}")]
    Tls { target: String, reason: String },
    /// TLS cannot be set up on this side (an `sslrootcert` that is missing, unreadable or not
    /// PEM): nothing was sent to the server.
    #[error("TLS with the PostgreSQL server of the journal {target}: {reason}")]
    TlsSetup { target: String, reason: String },
}

/// An open connection to a journal on PostgreSQL.
pub struct PgJournal {
    client: Client,
    target: PgTarget,
}

impl std::fmt::Debug for PgJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgJournal")
            .field("target", &self.target)
            .finish()
    }
}

impl PgJournal {
    /// Connects (within the string's `connect_timeout`, [`CONNECT_TIMEOUT`] unless it says),
    /// without looking at the schema.
    pub fn connect(target: &PgTarget) -> Result<PgJournal, PgError> {
        let tls = tls_connector(target)?;
        let client = target
            .config()
            .connect(tls)
            .map_err(|e| connect_error(target, &e))?;
        Ok(PgJournal {
            client,
            target: target.clone(),
        })
    }

    /// Connects to a journal whose schema is this melli's: one with none, or an older one, is
    /// [`PgError::NotMigrated`], a newer one [`PgError::TooNew`].
    pub fn open(target: &PgTarget) -> Result<PgJournal, PgError> {
        let mut journal = Self::connect(target)?;
        match journal.version()? {
            Some(SCHEMA_VERSION) => Ok(journal),
            Some(found) if found > SCHEMA_VERSION => Err(PgError::TooNew {
                target: shown(target),
                found,
            }),
            found => Err(PgError::NotMigrated {
                target: shown(target),
                found,
            }),
        }
    }

    pub fn target(&self) -> &PgTarget {
        &self.target
    }

    /// The schema version (none: no melli schema), read without changing anything.
    pub fn version(&mut self) -> Result<Option<i32>, PgError> {
        schema::version(&mut self.client).map_err(|e| sql_error(&self.target, &e))
    }

    /// Creates or upgrades the schema to [`SCHEMA_VERSION`]; safe to run from several
    /// stations at once.
    pub fn migrate(&mut self) -> Result<Migrated, PgError> {
        self.migrate_with(schema::MIGRATIONS)
    }

    fn migrate_with(&mut self, steps: &[schema::Migration]) -> Result<Migrated, PgError> {
        schema::migrate(&mut self.client, steps).map_err(|e| match e {
            schema::MigrateError::TooNew(found) => PgError::TooNew {
                target: shown(&self.target),
                found,
            },
            schema::MigrateError::Foreign(tables) => PgError::Foreign {
                target: shown(&self.target),
                tables: escaped(&tables.join(", ")),
            },
            schema::MigrateError::Sql(e) => sql_error(&self.target, &e),
        })
    }

    /// The connection, for the queue's statements (the next steps of this work) and tests.
    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }
}

/// The TLS connector the string's `sslmode` and `sslrootcert` ask for.
fn tls_connector(target: &PgTarget) -> Result<tokio_postgres_rustls::MakeRustlsConnect, PgError> {
    tls::connector(&target.tls_in_effect()).map_err(|reason| PgError::TlsSetup {
        target: shown(target),
        reason: target.redact(&reason),
    })
}

fn shown(target: &PgTarget) -> String {
    target.to_string()
}

/// A message from the server or the client crate, made safe to show.
fn safe(target: &PgTarget, text: &str) -> String {
    escaped(&target.redact(text))
}

/// What went wrong connecting, told apart: no answer, or a refusal.
fn connect_error(target: &PgTarget, e: &::postgres::Error) -> PgError {
    if let Some(db) = e.as_db_error() {
        let refused = [
            SqlState::INVALID_PASSWORD,
            SqlState::INVALID_AUTHORIZATION_SPECIFICATION,
            SqlState::INVALID_CATALOG_NAME,
            SqlState::INSUFFICIENT_PRIVILEGE,
        ]
        .contains(db.code());
        let reason = safe(target, db.message());
        // pg_hba.conf has a `hostssl` line for this client and no plain `host` one.
        if *db.code() == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
            && db.message().contains("no encryption")
        {
            return PgError::Tls {
                target: shown(target),
                reason: format!(
                    "{reason} — the server takes only TLS connections from here: use \
                     sslmode=require, verify-ca or verify-full"
                ),
            };
        }
        return if refused {
            PgError::Refused {
                target: shown(target),
                reason,
            }
        } else {
            // Starting up, shutting down, too many connections: the server is not serving.
            PgError::Unreachable {
                target: shown(target),
                reason,
            }
        };
    }
    let hosts = target.host_names().join(", ");
    let hosts = (!hosts.is_empty()).then_some(hosts.as_str());
    if let Some(reason) = tls::failure(target.tls(), hosts, e) {
        return PgError::Tls {
            target: shown(target),
            reason: safe(target, &reason),
        };
    }
    // An I/O error (no socket, connection refused, unknown host) or a timeout: the client
    // crate's "error connecting to server: <cause>" — the cause alone says it.
    let reason = match e.source() {
        Some(cause) => cause.to_string(),
        None => e.to_string(),
    };
    let reason = if reason.trim().is_empty() || reason == "timeout" {
        format!(
            "no answer within {} s",
            target
                .config()
                .get_connect_timeout()
                .map_or(CONNECT_TIMEOUT.as_secs(), |t| t.as_secs())
        )
    } else {
        reason
    };
    let reason = safe(target, &reason);
    // The client crate's "invalid configuration" whose cause is "password missing": the
    // server asked for a password the string does not have.
    if reason == "password missing" || e.to_string().contains("password missing") {
        return PgError::Refused {
            target: shown(target),
            reason: "the server asks for a password and the connection string has none".into(),
        };
    }
    PgError::Unreachable {
        target: shown(target),
        reason,
    }
}

fn sql_error(target: &PgTarget, e: &::postgres::Error) -> PgError {
    let reason = match e.as_db_error() {
        Some(db) => db.message().to_string(),
        None if e.is_closed() => "the server closed the connection".to_string(),
        None => e.to_string(),
    };
    PgError::Sql {
        target: shown(target),
        reason: safe(target, &reason),
    }
}

#[cfg(test)]
mod queue_tests;
#[cfg(test)]
mod tests;
