//! What `--journal` (or `MELLI_JOURNAL`) names: a PostgreSQL server, by a `postgres://` URL or
//! libpq's key-value pairs, or else a SQLite file.
//!
//! A connection string may carry a password, and the user's own words come back in error
//! messages: nothing here ever shows it. [`PgTarget`] shows itself (Display and Debug alike) as
//! a URL with `***` for the password, and an unparseable string is described without quoting
//! it — the client crate's own parse errors can quote a character of it, so only the parts
//! known to be harmless (an option's name, a byte offset) are kept.
//!
//! `sslmode` and `sslrootcert` are read here, not by the client crate, which knows neither
//! `verify-ca` nor `verify-full` nor root certificates (see `tls.rs`).

use std::error::Error as _;
use std::fmt::{self, Write as _};
use std::path::PathBuf;
use std::time::Duration;

use ::postgres::config::Host;
use ::postgres::Config;
use percent_encoding::percent_decode_str;

use super::tls::{SslMode, TlsOptions};

/// How long a connection attempt waits for the server, unless the string says
/// (`connect_timeout`).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The socket directory of Debian's server: the host when the string names none.
pub const DEFAULT_SOCKET_DIR: &str = "/var/run/postgresql";

/// Where the journal is.
#[derive(Debug, Clone)]
pub enum JournalUrl {
    /// A SQLite file (the embedded default).
    Sqlite(PathBuf),
    /// A PostgreSQL database (the shared queue of many stations).
    Postgres(PgTarget),
}

/// A PostgreSQL connection: the client's configuration, and how to show it without its
/// password.
#[derive(Clone)]
pub struct PgTarget {
    /// Boxed: a client configuration is large beside a file path.
    config: Box<Config>,
    tls: TlsOptions,
    shown: String,
}

/// A connection string that cannot be used. Its message never quotes the string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("is empty — give a SQLite file, or a postgres:// URL")]
    Empty,
    #[error("a {0}:// URL is not a journal melli knows — give a postgres:// URL or a SQLite file")]
    Scheme(String),
    #[error(
        "not a valid PostgreSQL connection string ({0}) — give \
         postgres://USER:PASSWORD@HOST[:PORT]/DATABASE, or key=value pairs such as \
         host=/run/postgresql user=melli dbname=melli"
    )]
    Malformed(String),
    #[error("the PostgreSQL connection string names no user — add USER@ to the URL, or user=NAME")]
    NoUser,
    /// A TLS setting melli cannot honour; the text says which and what to do.
    #[error("{0}")]
    Tls(String),
}

/// libpq's connection keywords (PostgreSQL 15 §34.1.2): a string that begins with one of
/// these followed by `=` is key-value pairs, anything else without a URL scheme a file.
const KEYWORDS: &[&str] = &[
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "passfile",
    "channel_binding",
    "connect_timeout",
    "client_encoding",
    "options",
    "application_name",
    "fallback_application_name",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
    "replication",
    "gssencmode",
    "sslmode",
    "requiressl",
    "sslcompression",
    "sslcert",
    "sslkey",
    "sslpassword",
    "sslrootcert",
    "sslcrl",
    "sslcrldir",
    "sslsni",
    "requirepeer",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "krbsrvname",
    "gsslib",
    "service",
    "target_session_attrs",
    "load_balance_hosts",
];

impl JournalUrl {
    /// Reads what the user gave: `postgres://` or `postgresql://` (any case) and key-value
    /// pairs are PostgreSQL; another `scheme://` is refused; anything else is a file path.
    pub fn parse(text: &str) -> Result<JournalUrl, UrlError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(UrlError::Empty);
        }
        if let Some(scheme) = url_scheme(trimmed) {
            let lower = scheme.to_ascii_lowercase();
            if lower != "postgres" && lower != "postgresql" {
                return Err(UrlError::Scheme(crate::display::escaped(&lower)));
            }
            let url = format!("{lower}{}", &trimmed[scheme.len()..]);
            return PgTarget::parse(&url).map(JournalUrl::Postgres);
        }
        if is_key_value(trimmed) {
            return PgTarget::parse(trimmed).map(JournalUrl::Postgres);
        }
        Ok(JournalUrl::Sqlite(PathBuf::from(text)))
    }
}

impl fmt::Display for JournalUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JournalUrl::Sqlite(path) => write!(f, "{}", path.display()),
            JournalUrl::Postgres(target) => target.fmt(f),
        }
    }
}

/// The scheme of `scheme://…` (RFC 3986 §3.1), if the text begins with one.
fn url_scheme(text: &str) -> Option<&str> {
    let (scheme, _) = text.split_once("://")?;
    let mut chars = scheme.chars();
    let first = chars.next()?;
    (first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
    .then_some(scheme)
}

fn is_key_value(text: &str) -> bool {
    let Some((key, _)) = text.split_once('=') else {
        return false;
    };
    KEYWORDS.contains(&key.trim_end())
}

impl PgTarget {
    /// Parses a `postgres://` URL or key-value pairs; fills in the socket directory when no
    /// host is named, the connect timeout and the application name.
    pub fn parse(text: &str) -> Result<PgTarget, UrlError> {
        let (rest, tls) = take_tls_options(text)?;
        let mut config: Config = rest
            .parse()
            .map_err(|e: ::postgres::Error| UrlError::Malformed(parse_detail(&e)))?;
        if config.get_user().is_none_or(str::is_empty) {
            return Err(UrlError::NoUser);
        }
        if config.get_hosts().is_empty() && config.get_hostaddrs().is_empty() {
            config.host_path(DEFAULT_SOCKET_DIR);
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("melli");
        }
        // libpq ignores sslmode on a Unix socket, where the server offers no TLS: so does
        // melli, rather than fail `require` against a local server.
        let only_sockets = config.get_hostaddrs().is_empty()
            && config
                .get_hosts()
                .iter()
                .all(|h| matches!(h, Host::Unix(_)));
        config.ssl_mode(if only_sockets {
            ::postgres::config::SslMode::Disable
        } else {
            tls.mode.wire()
        });
        let shown = shown(&config, &tls);
        Ok(PgTarget {
            config: Box::new(config),
            tls,
            shown,
        })
    }

    /// The client's configuration (with the password: for connecting only).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// `sslmode` and `sslrootcert`, as the string gave them.
    pub fn tls(&self) -> &TlsOptions {
        &self.tls
    }

    /// What TLS the connection will use: none on Unix sockets alone, whatever the string
    /// says (its root certificate is then not even read); else as the string says.
    pub fn tls_in_effect(&self) -> TlsOptions {
        if self.config.get_ssl_mode() == ::postgres::config::SslMode::Disable {
            TlsOptions {
                mode: SslMode::Disable,
                root_cert: None,
            }
        } else {
            self.tls.clone()
        }
    }

    /// The host names given (not sockets, not bare addresses): what verify-full checks the
    /// server's certificate against.
    pub fn host_names(&self) -> Vec<&str> {
        self.config
            .get_hosts()
            .iter()
            .filter_map(|h| match h {
                Host::Tcp(name) => Some(name.as_str()),
                Host::Unix(_) => None,
            })
            .collect()
    }

    /// `text` with the password, if the string has one, replaced by `***`: for messages that
    /// come from the server or the client crate, which should not quote it but are not ours.
    pub fn redact(&self, text: &str) -> String {
        match self.config.get_password() {
            // A password of one or two characters would blank out half a message; one that
            // short is no secret anyway.
            Some(password) if password.len() >= 3 => match std::str::from_utf8(password) {
                Ok(password) => text.replace(password, "***"),
                Err(_) => text.to_string(),
            },
            _ => text.to_string(),
        }
    }
}

impl fmt::Display for PgTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

/// As Display: the password is never shown, not even in a debug dump.
impl fmt::Debug for PgTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PgTarget({})", self.shown)
    }
}

/// The connection as a URL, `***` for the password, the TLS mode unless it is the default,
/// escaped for a terminal.
fn shown(config: &Config, tls: &TlsOptions) -> String {
    let mut out = String::from("postgres://");
    if let Some(user) = config.get_user() {
        out.push_str(&percent_encoded(user));
    }
    if config.get_password().is_some() {
        out.push_str(":***");
    }
    out.push('@');
    let ports = config.get_ports();
    let mut hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            Host::Tcp(name) => percent_encoded(name),
            Host::Unix(path) => percent_encoded(&path.to_string_lossy()),
        })
        .collect();
    if hosts.is_empty() {
        hosts = config
            .get_hostaddrs()
            .iter()
            .map(|a| match a {
                std::net::IpAddr::V6(v6) => format!("[{v6}]"),
                v4 => v4.to_string(),
            })
            .collect();
    }
    for (i, host) in hosts.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(host);
        // One port for all hosts, or one each (the client crate's rule).
        let port = match ports {
            [one] => Some(one),
            many => many.get(i),
        };
        if let Some(port) = port {
            let _ = write!(out, ":{port}");
        }
    }
    out.push('/');
    if let Some(db) = config.get_dbname() {
        out.push_str(&percent_encoded(db));
    }
    if tls.mode != SslMode::Prefer {
        let _ = write!(out, "?sslmode={}", tls.mode);
    }
    crate::display::escaped(&out)
}

/// One `key=value` of a connection string, where it stands in the string.
struct Param {
    key: String,
    value: String,
    span: std::ops::Range<usize>,
}

/// Takes the TLS settings melli reads itself out of a connection string, and refuses those it
/// does not support, each with a line that says what to do; returns the rest of the string for
/// the client crate. A string that cannot be split into parameters is returned as it is: the
/// crate then says what is wrong with it.
fn take_tls_options(text: &str) -> Result<(String, TlsOptions), UrlError> {
    let (params, base) = if url_scheme(text).is_some() {
        url_params(text)
    } else {
        (key_value_params(text).unwrap_or_default(), 0)
    };
    let mut tls = TlsOptions::default();
    let mut taken = Vec::new();
    // libpq takes the last of a key given twice.
    for param in &params {
        match param.key.as_str() {
            "sslmode" => {
                tls.mode = match (SslMode::parse(&param.value), param.value.as_str()) {
                    (Some(mode), _) => mode,
                    (None, "allow") => {
                        return Err(UrlError::Tls(
                            "sslmode=allow is not supported — use disable, prefer, require, \
                             verify-ca or verify-full"
                                .into(),
                        ))
                    }
                    (None, _) => {
                        return Err(UrlError::Malformed("invalid value for sslmode".into()))
                    }
                };
                taken.push(param.span.clone());
            }
            "sslrootcert" => {
                if param.value == "system" {
                    return Err(UrlError::Tls(
                        "sslrootcert=system (the system's CAs) is not supported — give the \
                         file of the CA that signed the server's certificate"
                            .into(),
                    ));
                }
                tls.root_cert = (!param.value.is_empty()).then(|| PathBuf::from(&param.value));
                taken.push(param.span.clone());
            }
            "sslcert" | "sslkey" | "sslpassword" => {
                return Err(UrlError::Tls(format!(
                    "{} (a client certificate) is not supported yet — log in with a password, \
                     or by peer on the server's Unix socket",
                    param.key
                )))
            }
            "sslcrl" | "sslcrldir" => {
                return Err(UrlError::Tls(format!(
                    "{} (certificate revocation lists) is not supported yet — leave it out; \
                     replace a revoked server certificate on the server",
                    param.key
                )))
            }
            _ => {}
        }
    }
    if matches!(tls.mode, SslMode::VerifyCa | SslMode::VerifyFull) && tls.root_cert.is_none() {
        return Err(UrlError::Tls(format!(
            "sslmode={} needs sslrootcert=FILE, the CA certificate (PEM) that signed the \
             server's certificate",
            tls.mode
        )));
    }
    let mut rest = String::with_capacity(text.len());
    let mut at = 0;
    for span in &taken {
        rest.push_str(&text[at..base + span.start]);
        at = base + span.end;
    }
    rest.push_str(&text[at..]);
    if url_scheme(text).is_some() {
        // No parameter may be left empty between separators, nor a `?` with nothing after.
        rest = tidy_query(&rest);
    }
    Ok((rest, tls))
}

/// The parameters of a URL's query (`?a=b&c=d`, percent-decoded), their spans counted from the
/// returned offset, each with its `&` so that it can be cut out whole. The query begins at the
/// first `?` after the user information, which ends at the first `@` (the client crate's rule).
fn url_params(text: &str) -> (Vec<Param>, usize) {
    let after_scheme = text.find("://").map_or(0, |i| i + 3);
    let after_user = text[after_scheme..]
        .find('@')
        .map_or(after_scheme, |i| after_scheme + i + 1);
    let Some(q) = text[after_user..].find('?') else {
        return (Vec::new(), text.len());
    };
    let base = after_user + q + 1;
    let query = &text[base..];
    let mut params = Vec::new();
    let mut start = 0;
    for piece in query.split('&') {
        let end = start + piece.len();
        if let Some((key, value)) = piece.split_once('=') {
            let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
            params.push(Param {
                key: decode(key),
                value: decode(value),
                // With the `&` after it, if there is one.
                span: start..(end + 1).min(query.len()),
            });
        }
        start = end + 1;
    }
    (params, base)
}

/// A URL whose query lost parameters: no `&` at its end, no `?` with nothing after it.
fn tidy_query(url: &str) -> String {
    let trimmed = url.trim_end_matches('&');
    trimmed.strip_suffix('?').unwrap_or(trimmed).to_string()
}

/// The `key=value` pairs of libpq's key-value form, read as the client crate reads them
/// (whitespace around `=`, values in single quotes or bare, `\` escaping the next character);
/// `None` if the string does not split so.
fn key_value_params(text: &str) -> Option<Vec<Param>> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let at = |i: usize| chars.get(i).map_or(text.len(), |&(b, _)| b);
    let mut i = 0;
    let mut params = Vec::new();
    let skip_ws = |mut i: usize| {
        while chars.get(i).is_some_and(|(_, c)| c.is_whitespace()) {
            i += 1;
        }
        i
    };
    loop {
        i = skip_ws(i);
        if i >= chars.len() {
            return Some(params);
        }
        let start = i;
        while chars
            .get(i)
            .is_some_and(|&(_, c)| !c.is_whitespace() && c != '=')
        {
            i += 1;
        }
        let key = text[at(start)..at(i)].to_string();
        i = skip_ws(i);
        if chars.get(i).map(|&(_, c)| c) != Some('=') {
            return None;
        }
        i = skip_ws(i + 1);
        let mut value = String::new();
        let quoted = chars.get(i).map(|&(_, c)| c) == Some('\'');
        if quoted {
            i += 1;
        }
        loop {
            match chars.get(i).map(|&(_, c)| c) {
                None if quoted => return None,
                None => break,
                Some('\'') if quoted => {
                    i += 1;
                    break;
                }
                Some(c) if c.is_whitespace() && !quoted => break,
                Some('\\') => {
                    if let Some(&(_, next)) = chars.get(i + 1) {
                        value.push(next);
                    }
                    i += 2;
                }
                Some(c) => {
                    value.push(c);
                    i += 1;
                }
            }
        }
        if !quoted && value.is_empty() {
            return None;
        }
        let end = at(i.min(chars.len()));
        params.push(Param {
            key,
            value,
            span: at(start)..end,
        });
    }
}

/// Percent-encoding of everything but RFC 3986's unreserved characters (§2.3).
fn percent_encoded(text: &str) -> String {
    text.bytes().fold(String::new(), |mut s, b| {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            s.push(char::from(b));
        } else {
            let _ = write!(s, "%{b:02X}");
        }
        s
    })
}

/// What is wrong with a string the client crate could not parse, with nothing of the string
/// itself but an option's name or a byte offset.
fn parse_detail(e: &::postgres::Error) -> String {
    let cause = e.source().map(ToString::to_string).unwrap_or_default();
    let quoted_name = |prefix: &str| {
        cause
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix('`'))
            .filter(|name| {
                !name.is_empty()
                    && name.len() <= 64
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            })
            .map(str::to_string)
    };
    if let Some(name) = quoted_name("unknown option `") {
        return format!("unknown option {name}");
    }
    if let Some(name) = quoted_name("invalid value for option `") {
        return format!("invalid value for {name}");
    }
    if let Some(rest) = cause.strip_prefix("unexpected character at byte ") {
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if !digits.is_empty() {
            return format!("unexpected character at byte {digits}");
        }
    }
    match cause.as_str() {
        "unexpected EOF" => "it ends too soon".to_string(),
        "unterminated parameter" | "unterminated quoted connection parameter value" => {
            "a quoted value is not closed".to_string()
        }
        _ => "it cannot be parsed".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "s3cr3t-Pa55";

    fn pg(text: &str) -> PgTarget {
        match JournalUrl::parse(text).expect("parses") {
            JournalUrl::Postgres(t) => t,
            other => panic!("{text} is not PostgreSQL: {other:?}"),
        }
    }

    #[test]
    fn urls_and_key_values_are_postgres_everything_else_a_file() {
        let t = pg(&format!("postgres://melli:{SECRET}@db.example:6543/queue"));
        assert_eq!(t.to_string(), "postgres://melli:***@db.example:6543/queue");
        assert_eq!(t.config().get_password(), Some(SECRET.as_bytes()));
        assert_eq!(t.config().get_connect_timeout(), Some(&CONNECT_TIMEOUT));

        let t = pg("postgresql://melli@%2Frun%2Fpg/melli?connect_timeout=3");
        // No port given: the client's default is shown.
        assert_eq!(t.to_string(), "postgres://melli@%2Frun%2Fpg:5432/melli");
        assert_eq!(t.config().get_hosts(), [Host::Unix("/run/pg".into())]);
        assert_eq!(
            t.config().get_connect_timeout(),
            Some(&Duration::from_secs(3))
        );

        // The scheme in any case.
        let t = pg("POSTGRES://melli@localhost/melli");
        assert_eq!(t.to_string(), "postgres://melli@localhost:5432/melli");

        let t = pg(&format!(
            "host=/tmp/s port=5432 user=melli password={SECRET} dbname=m"
        ));
        assert_eq!(t.to_string(), "postgres://melli:***@%2Ftmp%2Fs:5432/m");
        assert_eq!(t.config().get_hosts(), [Host::Unix("/tmp/s".into())]);

        // No host: Debian's socket directory.
        let t = pg("user=melli dbname=melli");
        assert_eq!(
            t.config().get_hosts(),
            [Host::Unix(DEFAULT_SOCKET_DIR.into())]
        );

        for file in [
            "journal.db",
            "/var/lib/melli/journal.db",
            "./a=b.db",
            "weird=name.db",
            "postgres.db",
        ] {
            match JournalUrl::parse(file).expect("a file") {
                JournalUrl::Sqlite(p) => assert_eq!(p, PathBuf::from(file)),
                other => panic!("{file}: {other:?}"),
            }
        }
    }

    #[test]
    fn bad_strings_are_refused_without_quoting_them() {
        assert_eq!(
            JournalUrl::parse("  ").expect_err("refused"),
            UrlError::Empty
        );
        assert_eq!(
            JournalUrl::parse("mysql://root@db/x").expect_err("refused"),
            UrlError::Scheme("mysql".into())
        );
        let cases = [
            (
                format!("postgres://melli:{SECRET}@localhost:notaport/melli"),
                "invalid value for port",
            ),
            (
                format!("host=/tmp user=melli password='{SECRET}"),
                "a quoted value is not closed",
            ),
            (
                format!("host=/tmp user=melli password={SECRET} hots=x"),
                "unknown option hots",
            ),
            (
                format!("user=melli password={SECRET} sslmode=sometimes"),
                "invalid value for sslmode",
            ),
        ];
        for (text, detail) in cases {
            let e = JournalUrl::parse(&text).expect_err("refused");
            assert_eq!(e, UrlError::Malformed(detail.into()), "{text}");
            let message = e.to_string();
            assert!(!message.contains(SECRET), "{message}");
            assert!(!message.contains("s3cr"), "{message}");
        }
        // A character of the string in the client crate's message is dropped; the offset stays.
        let e = JournalUrl::parse("host=/tmp user 'melli'").expect_err("refused");
        match &e {
            UrlError::Malformed(d) => {
                assert!(d.starts_with("unexpected character at byte "), "{d}")
            }
            other => panic!("{other:?}"),
        }
        assert!(!e.to_string().contains('\''), "{e}");
        assert_eq!(
            JournalUrl::parse(&format!("postgres://:{SECRET}@localhost/melli"))
                .expect_err("refused"),
            UrlError::NoUser
        );
    }

    #[test]
    fn the_password_is_never_shown() {
        let texts = [
            format!("postgres://melli:{SECRET}@localhost/melli"),
            format!("postgresql://melli:{SECRET}@%2Ftmp%2Fx:5432/melli"),
            format!("host=localhost user=melli password={SECRET}"),
            format!("host=localhost user=melli password='{SECRET}'"),
            format!(
                "postgres://melli:{SECRET}@localhost/melli?sslmode=verify-full&sslrootcert=/ca.pem"
            ),
            format!("sslmode=require host=localhost password={SECRET} user=melli"),
        ];
        for text in texts {
            let url = JournalUrl::parse(&text).expect("parses");
            let JournalUrl::Postgres(target) = &url else {
                panic!("{text}")
            };
            for shown in [
                url.to_string(),
                format!("{url:?}"),
                target.to_string(),
                format!("{target:?}"),
                format!("{:?}", target.config()),
            ] {
                assert!(!shown.contains(SECRET), "{shown}");
            }
            assert!(url.to_string().contains(":***@"), "{url}");
            assert_eq!(
                target.redact(&format!("the server said {SECRET}!")),
                "the server said ***!"
            );
        }
    }

    #[test]
    fn sslmode_and_sslrootcert_are_melli_s_the_rest_the_client_crate_s() {
        use ::postgres::config::SslMode as Wire;
        let t = pg(&format!(
            "postgres://melli:{SECRET}@db.example:6543/queue?connect_timeout=4&\
             sslmode=verify-full&sslrootcert=%2Fetc%2Fmelli%2Fca.pem&application_name=desk"
        ));
        assert_eq!(
            t.tls(),
            &TlsOptions {
                mode: SslMode::VerifyFull,
                root_cert: Some("/etc/melli/ca.pem".into())
            }
        );
        assert_eq!(t.config().get_ssl_mode(), Wire::Require);
        // The parameters around them still reach the client crate.
        assert_eq!(
            t.config().get_connect_timeout(),
            Some(&Duration::from_secs(4))
        );
        assert_eq!(t.config().get_application_name(), Some("desk"));
        assert_eq!(
            t.to_string(),
            "postgres://melli:***@db.example:6543/queue?sslmode=verify-full"
        );

        // The last parameter, and the only one.
        let t = pg("postgres://melli@db/m?sslrootcert=/ca.pem&sslmode=verify-ca");
        assert_eq!(t.tls().mode, SslMode::VerifyCa);
        assert_eq!(t.tls().root_cert, Some(PathBuf::from("/ca.pem")));
        let t = pg("postgres://melli@db/m?sslmode=disable");
        assert_eq!(t.config().get_ssl_mode(), Wire::Disable);
        assert_eq!(t.to_string(), "postgres://melli@db:5432/m?sslmode=disable");
        // A `?` in the password is not the query's.
        let t = pg("postgres://melli:pa?ss@db/m?sslmode=require");
        assert_eq!(t.config().get_password(), Some(&b"pa?ss"[..]));
        assert_eq!(t.tls().mode, SslMode::Require);

        // Key-value pairs, quoted or not, with spaces around `=`; the last of two wins.
        let t = pg(&format!(
            "host=db.example sslmode=require user=melli password='{SECRET}' \
             sslrootcert = '/etc/my ca.pem' sslmode=verify-full dbname=m"
        ));
        assert_eq!(t.tls().mode, SslMode::VerifyFull);
        assert_eq!(t.tls().root_cert, Some(PathBuf::from("/etc/my ca.pem")));
        assert_eq!(t.config().get_dbname(), Some("m"));
        assert_eq!(t.config().get_password(), Some(SECRET.as_bytes()));

        // No sslmode: libpq's prefer, shown as nothing.
        let t = pg("postgres://melli@db/m");
        assert_eq!(t.tls(), &TlsOptions::default());
        assert_eq!(t.config().get_ssl_mode(), Wire::Prefer);
        assert_eq!(t.to_string(), "postgres://melli@db:5432/m");

        // On a socket there is no TLS, whatever the string says; the root certificate is
        // then not needed either.
        let t = pg("host=/run/pg user=melli sslmode=verify-full sslrootcert=/nonexistent");
        assert_eq!(t.config().get_ssl_mode(), Wire::Disable);
        assert_eq!(t.tls().mode, SslMode::VerifyFull);
        assert_eq!(t.tls_in_effect().mode, SslMode::Disable);
        assert_eq!(t.tls_in_effect().root_cert, None);
        // …but a socket with a hostaddr is TCP.
        let t = pg("host=/run/pg hostaddr=127.0.0.1 user=melli sslmode=require");
        assert_eq!(t.config().get_ssl_mode(), Wire::Require);
    }

    #[test]
    fn tls_settings_melli_cannot_honour_are_refused_with_what_to_do() {
        let refused = |text: &str| JournalUrl::parse(text).expect_err("refused");
        for text in [
            format!("postgres://melli:{SECRET}@db/m?sslmode=verify-full"),
            format!("host=db user=melli password={SECRET} sslmode=verify-full"),
            format!("host=db user=melli password={SECRET} sslmode=verify-full sslrootcert=''"),
        ] {
            let e = refused(&text);
            assert_eq!(
                e.to_string(),
                "sslmode=verify-full needs sslrootcert=FILE, the CA certificate (PEM) that \
                 signed the server's certificate",
                "{text}"
            );
        }
        assert!(refused("postgres://melli@db/m?sslmode=verify-ca")
            .to_string()
            .starts_with("sslmode=verify-ca needs sslrootcert=FILE"));
        for (text, start) in [
            (
                "postgres://melli@db/m?sslmode=allow",
                "sslmode=allow is not supported",
            ),
            (
                "postgres://melli@db/m?sslmode=require&sslcert=c.pem",
                "sslcert (a client certificate) is not supported yet",
            ),
            (
                "host=db user=melli sslkey=/k.pem",
                "sslkey (a client certificate) is not supported yet",
            ),
            (
                "host=db user=melli sslcrl=/x.crl",
                "sslcrl (certificate revocation lists) is not supported yet",
            ),
            (
                "postgres://melli@db/m?sslmode=verify-full&sslrootcert=system",
                "sslrootcert=system (the system's CAs) is not supported",
            ),
        ] {
            let e = refused(text);
            assert!(matches!(e, UrlError::Tls(_)), "{text}: {e:?}");
            assert!(e.to_string().starts_with(start), "{text}: {e}");
        }
        let e = refused(&format!("postgres://melli:{SECRET}@db/m?sslmode={SECRET}"));
        assert_eq!(e, UrlError::Malformed("invalid value for sslmode".into()));
        assert!(!e.to_string().contains(SECRET), "{e}");
    }

    #[test]
    fn what_is_shown_is_escaped() {
        let t = pg("host=/tmp user=melli dbname='a\u{1b}[2Jb'");
        assert!(!t.to_string().contains('\u{1b}'), "{t}");
    }
}
