//! A private PostgreSQL cluster per test: Debian's `postgresql` server, `initdb` and `pg_ctl` in
//! a temporary directory, listening on a Unix socket in that directory and nowhere else.
//!
//! - **Who runs it.** The server refuses to run as root, and the tests run as root: then the
//!   cluster belongs to the `postgres` system user the Debian package creates, and every server
//!   program is run through `runuser -u postgres --`. Run as anyone else, it runs as that user.
//! - **Authentication.** The superuser `postgres` logs in by `peer` on the socket (only the
//!   harness uses it, to make roles and to look inside); the role `melli`, owner of the database
//!   `melli`, logs in with a random password checked by `scram-sha-256`, so the tests go through
//!   password authentication and can check that the password is never printed. Nothing
//!   listens on TCP (`listen_addresses = ''`) unless [`Options::tcp`] asks.
//! - **TCP and TLS** ([`Options::tcp`]). [`Tcp::Plain`]: the cluster also listens on 127.0.0.1,
//!   on a free port, without TLS; `melli` logs in there by password. [`Tcp::Tls`]: the same
//!   with `ssl = on` and a `hostssl` line only, so that a connection without TLS is refused by
//!   pg_hba.conf; the server's certificate (for `localhost` and 127.0.0.1) is issued by a test
//!   CA made with the `openssl` command for this cluster ([`Postgres::ca_cert`]). The port is
//!   then the socket's too (`.s.PGSQL.PORT`).
//! - **Peer authentication** ([`Options::peer_role`]). The role [`PEER_ROLE`], owner of the
//!   database of the same name, has no password: it logs in on the socket by `peer`, the
//!   operating-system user running the tests mapped to it in pg_ident.conf (root, when the
//!   server runs as `postgres`).
//! - **Crashes.** [`Postgres::kill`] SIGKILLs the postmaster and its children, as a power cut
//!   or an OOM kill would; [`Postgres::start`] brings it back through crash recovery.
//! - **Clean-up.** Dropping the cluster stops it and removes its directory. A test process that
//!   died leaves its cluster running: the directory's name carries the test process's id, and
//!   the next cluster made on the machine stops and removes those of dead processes.

use std::fmt::Write as _;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::process::{kill_pid, pid_alive};

/// The port in the socket's name (`.s.PGSQL.5432`): each cluster has its own socket directory,
/// so every cluster can use the default.
pub const PORT: u16 = 5432;

/// The role and database the tests connect to.
pub const ROLE: &str = "melli";
pub const DATABASE: &str = "melli";

/// The role without a password that logs in by peer ([`Options::peer_role`]), and its
/// database.
pub const PEER_ROLE: &str = "melli_peer";

/// Whether, and how, a cluster listens on TCP besides its socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tcp {
    /// The socket only.
    #[default]
    Off,
    /// 127.0.0.1 too, without TLS (`ssl = off`).
    Plain,
    /// 127.0.0.1 too, TLS only (`hostssl`), with a certificate of a test CA.
    Tls,
}

/// How [`Postgres::start_with`] makes a cluster; the default is [`Postgres::start_new`]'s.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    pub tcp: Tcp,
    /// Also the role [`PEER_ROLE`], logging in by peer.
    pub peer_role: bool,
}

/// The system user that owns the cluster when the tests run as root.
const SYSTEM_USER: &str = "postgres";

/// How long a start or stop may take.
const WAIT: Duration = Duration::from_secs(60);

/// One private PostgreSQL cluster, running unless stopped or killed.
pub struct Postgres {
    bin: PathBuf,
    /// The cluster's directory: `data/`, the socket, the server log.
    dir: PathBuf,
    password: String,
    /// Whether server programs must be run as [`SYSTEM_USER`] (this process is root).
    as_system_user: bool,
    /// The TCP port, and the socket's number.
    port: u16,
    options: Options,
}

impl std::fmt::Debug for Postgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postgres")
            .field("dir", &self.dir)
            .field("password", &"***")
            .finish()
    }
}

impl Postgres {
    /// Makes a new cluster with the role and database `melli`, and starts it. Panics with the
    /// reason (and the server log, when there is one) if it cannot.
    pub fn start_new() -> Postgres {
        Self::start_with(Options::default())
    }

    /// [`Postgres::start_new`], listening on TCP or with the peer role as `options` say.
    pub fn start_with(options: Options) -> Postgres {
        let bin = bin_dir();
        let as_system_user = running_as_root();
        let base = base_dir();
        sweep_dead_clusters(&base, &bin, as_system_user);
        let dir = make_cluster_dir(&base, as_system_user);
        let pg = Postgres {
            bin,
            dir,
            password: random_password(),
            as_system_user,
            port: match options.tcp {
                Tcp::Off => PORT,
                Tcp::Plain | Tcp::Tls => free_port(),
            },
            options,
        };
        pg.init();
        pg.start();
        pg.create_role_and_database();
        pg
    }

    /// The directory of the server's socket (and of the whole cluster).
    pub fn socket_dir(&self) -> &Path {
        &self.dir
    }

    /// The role `melli`'s password.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// The port: [`PORT`] on the socket alone, a free one when the cluster listens on TCP.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `postgres://melli:PASSWORD@HOST:PORT/melli[?QUERY]` over TCP (`host` such as
    /// `localhost` or `127.0.0.1`). Panics unless the cluster listens on TCP.
    pub fn tcp_url(&self, host: &str, query: &str) -> String {
        assert!(
            self.options.tcp != Tcp::Off,
            "tcp_url: this cluster listens on its socket only (Options::tcp)"
        );
        let mut url = format!(
            "postgres://{ROLE}:{}@{host}:{}/{DATABASE}",
            self.password, self.port
        );
        if !query.is_empty() {
            url.push('?');
            url.push_str(query);
        }
        url
    }

    /// The test CA's certificate (PEM) that issued the server's. Panics unless the cluster
    /// was made with [`Tcp::Tls`].
    pub fn ca_cert(&self) -> PathBuf {
        assert!(
            self.options.tcp == Tcp::Tls,
            "ca_cert: this cluster has no TLS (Options::tcp)"
        );
        self.dir.join("ca.pem")
    }

    /// `host=/socket/dir port=PORT user=melli_peer dbname=melli_peer`: no password, peer
    /// authentication. Panics unless the cluster was made with [`Options::peer_role`].
    pub fn peer_key_value(&self) -> String {
        assert!(
            self.options.peer_role,
            "peer_key_value: this cluster has no peer role (Options::peer_role)"
        );
        format!(
            "host={} port={} user={PEER_ROLE} dbname={PEER_ROLE}",
            self.dir.display(),
            self.port
        )
    }

    /// `postgres://melli:PASSWORD@%2Fsocket%2Fdir:5432/melli`: the URL form, the socket
    /// directory percent-encoded as the host.
    pub fn url(&self) -> String {
        self.url_with_password(&self.password)
    }

    /// [`Postgres::url`] with another password (for tests of a wrong one).
    pub fn url_with_password(&self, password: &str) -> String {
        format!(
            "postgres://{ROLE}:{password}@{}:{}/{DATABASE}",
            self.encoded_socket_dir(),
            self.port
        )
    }

    /// The socket directory as it stands for the host in [`Postgres::url`].
    pub fn encoded_socket_dir(&self) -> String {
        percent_encoded(&self.dir.to_string_lossy())
    }

    /// `host=/socket/dir port=5432 user=melli password=PASSWORD dbname=melli`: the key-value
    /// form.
    pub fn key_value(&self) -> String {
        format!(
            "host={} port={} user={ROLE} password={} dbname={DATABASE}",
            self.dir.display(),
            self.port,
            self.password
        )
    }

    /// Starts the server (after [`Postgres::stop`] or [`Postgres::kill`]: then it recovers
    /// from its write-ahead log first). Waits until it accepts connections.
    pub fn start(&self) {
        // After a kill, a child of the old postmaster may hold its shared memory for a moment:
        // the new one refuses to start until it is gone.
        let deadline = Instant::now() + WAIT;
        loop {
            let out = self.server_program("pg_ctl", &self.pg_ctl_args("start"));
            if out.status.success() {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "pg_ctl start failed: {}\nserver log:\n{}",
                    text(&out),
                    self.log()
                );
            }
            thread::sleep(Duration::from_millis(200));
        }
    }

    /// Stops the server the polite way (`-m fast`: clients are disconnected, a checkpoint is
    /// written).
    pub fn stop(&self) {
        let out = self.server_program("pg_ctl", &self.pg_ctl_args("stop"));
        assert!(
            out.status.success(),
            "pg_ctl stop failed: {}\nserver log:\n{}",
            text(&out),
            self.log()
        );
    }

    /// Stops and starts the server (`-m fast`).
    pub fn restart(&self) {
        let out = self.server_program("pg_ctl", &self.pg_ctl_args("restart"));
        assert!(
            out.status.success(),
            "pg_ctl restart failed: {}\nserver log:\n{}",
            text(&out),
            self.log()
        );
    }

    /// SIGKILLs the postmaster and every process it started, and waits until they are gone:
    /// the server crashed. [`Postgres::start`] brings it back.
    pub fn kill(&self) {
        let Some(postmaster) = self.postmaster_pid() else {
            panic!("kill: the server is not running (no postmaster.pid)");
        };
        let mut pids = children_of(postmaster);
        pids.push(postmaster);
        for &pid in &pids {
            kill_pid(pid, "KILL");
        }
        let deadline = Instant::now() + WAIT;
        while pids.iter().any(|&p| pid_alive(p)) {
            assert!(
                Instant::now() < deadline,
                "kill: processes {pids:?} still alive"
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether the postmaster is running.
    pub fn is_running(&self) -> bool {
        self.postmaster_pid().is_some_and(pid_alive)
    }

    /// Runs SQL as the superuser through `psql` (unaligned, tuples only: one line per row,
    /// columns separated by `|`), stopping at the first error; returns what it printed.
    pub fn superuser_sql(&self, sql: &str) -> String {
        self.psql("postgres", DATABASE, sql)
    }

    /// The server log so far (for failure messages).
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn pg_ctl_args(&self, action: &str) -> Vec<String> {
        let mut args = vec![
            "-D".to_string(),
            path_string(&self.data_dir()),
            "-w".to_string(),
            "-t".to_string(),
            WAIT.as_secs().to_string(),
        ];
        if action != "start" {
            args.extend(["-m".to_string(), "fast".to_string()]);
        }
        if action != "stop" {
            args.extend(["-l".to_string(), path_string(&self.dir.join("server.log"))]);
        }
        args.push(action.to_string());
        args
    }

    fn init(&self) {
        let out = self.server_program(
            "initdb",
            &[
                "-D".to_string(),
                path_string(&self.data_dir()),
                "-U".to_string(),
                "postgres".to_string(),
                "-E".to_string(),
                "UTF8".to_string(),
                "--locale=C".to_string(),
                "--auth-local=peer".to_string(),
                "--auth-host=reject".to_string(),
                // A test cluster need not survive the machine's power cut, only the server's.
                "--no-sync".to_string(),
            ],
        );
        assert!(out.status.success(), "initdb failed: {}", text(&out));
        // The superuser by peer (the harness, run as the system user); the peer role by peer,
        // mapped from the user running the tests; everyone else by password, SCRAM only; on
        // TCP from 127.0.0.1 only, and there with TLS only when the cluster has it.
        let mut hba = String::from("local all postgres peer\n");
        if self.options.peer_role {
            let _ = writeln!(hba, "local all {PEER_ROLE} peer map=melli");
            let ident = format!("melli {} {PEER_ROLE}\n", os_user());
            self.write_owned(&self.data_dir().join("pg_ident.conf"), &ident);
        }
        hba.push_str("local all all scram-sha-256\n");
        let listen = match self.options.tcp {
            Tcp::Off => "",
            Tcp::Plain => {
                let _ = writeln!(hba, "host all {ROLE} 127.0.0.1/32 scram-sha-256");
                "127.0.0.1"
            }
            Tcp::Tls => {
                let _ = writeln!(hba, "hostssl all {ROLE} 127.0.0.1/32 scram-sha-256");
                "127.0.0.1"
            }
        };
        self.write_owned(&self.data_dir().join("pg_hba.conf"), &hba);
        let mut conf = fs::read_to_string(self.data_dir().join("postgresql.conf"))
            .expect("read postgresql.conf");
        let _ = write!(
            conf,
            "\n# melli-testkit\nlisten_addresses = '{listen}'\nunix_socket_directories = '{}'\n\
             port = {}\npassword_encryption = 'scram-sha-256'\nshared_buffers = '16MB'\n\
             max_connections = 60\nfsync = off\n",
            self.dir.display(),
            self.port
        );
        if self.options.tcp == Tcp::Tls {
            self.make_server_certificate();
            let _ = write!(
                conf,
                "ssl = on\nssl_cert_file = '{}'\nssl_key_file = '{}'\n",
                self.dir.join("server.crt").display(),
                self.dir.join("server.key").display()
            );
        }
        self.write_owned(&self.data_dir().join("postgresql.conf"), &conf);
    }

    /// `ca.pem` (a new test CA) and the server's `server.crt` and `server.key`, for
    /// `localhost` and 127.0.0.1, in the cluster's directory; the key readable by the server
    /// alone, as it insists.
    fn make_server_certificate(&self) {
        make_ca(&self.dir, "ca");
        fs::write(
            self.dir.join("server.ext"),
            "basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\n\
             extendedKeyUsage = serverAuth\nsubjectAltName = DNS:localhost, IP:127.0.0.1\n\
             subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n",
        )
        .expect("write server.ext");
        openssl(
            &self.dir,
            &[
                "req",
                "-new",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=localhost",
            ],
        );
        let serial = format!("0x{}", &random_password()[..16]);
        openssl(
            &self.dir,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-set_serial",
                &serial,
                "-days",
                "30",
                "-extfile",
                "server.ext",
                "-out",
                "server.crt",
            ],
        );
        let key = self.dir.join("server.key");
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).expect("chmod server.key");
        }
        if self.as_system_user {
            chown(&key, false);
            chown(&self.dir.join("server.crt"), false);
        }
    }

    fn create_role_and_database(&self) {
        // On stdin, not the command line: the password stays out of `ps`.
        self.psql(
            "postgres",
            "postgres",
            &format!(
                "CREATE ROLE {ROLE} LOGIN PASSWORD '{}';\nCREATE DATABASE {DATABASE} OWNER {ROLE};\n",
                self.password
            ),
        );
        if self.options.peer_role {
            self.psql(
                "postgres",
                "postgres",
                &format!(
                    "CREATE ROLE {PEER_ROLE} LOGIN;\nCREATE DATABASE {PEER_ROLE} OWNER {PEER_ROLE};\n"
                ),
            );
        }
    }

    fn psql(&self, user: &str, database: &str, sql: &str) -> String {
        let bin = self.bin.join("psql");
        let args = [
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            &path_string(&self.dir),
            "-p",
            &self.port.to_string(),
            "-U",
            user,
            "-d",
            database,
            "-f",
            "-",
        ]
        .map(str::to_string);
        let out = self.run(&bin, &args, Some(sql));
        assert!(
            out.status.success(),
            "psql failed: {}\nserver log:\n{}",
            text(&out),
            self.log()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn postmaster_pid(&self) -> Option<u32> {
        let text = fs::read_to_string(self.data_dir().join("postmaster.pid")).ok()?;
        text.lines().next()?.trim().parse().ok()
    }

    fn server_program(&self, name: &str, args: &[String]) -> Output {
        self.run(&self.bin.join(name), args, None)
    }

    /// Runs a server program as the cluster's owner, in its directory, stdin given or closed.
    fn run(&self, program: &Path, args: &[String], input: Option<&str>) -> Output {
        run_as(self.as_system_user, &self.dir, program, args, input)
    }

    /// Writes a file in the cluster as its owner would (the server reads its configuration as
    /// that user).
    fn write_owned(&self, path: &Path, content: &str) {
        fs::write(path, content).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        if self.as_system_user {
            chown(path, false);
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if self.is_running() {
            let mut args = self.pg_ctl_args("stop");
            // Immediate: a test's end need not wait for a checkpoint.
            if let Some(m) = args.iter().position(|a| a == "fast") {
                args[m] = "immediate".to_string();
            }
            let _ = self.server_program("pg_ctl", &args);
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn run_as(
    as_system_user: bool,
    cwd: &Path,
    program: &Path,
    args: &[String],
    input: Option<&str>,
) -> Output {
    let mut command = if as_system_user {
        let mut c = Command::new("runuser");
        c.args(["-u", SYSTEM_USER, "--"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    command
        .args(args)
        .current_dir(cwd)
        // pg_ctl's server keeps its stdout and stderr open: with pipes, reading them would
        // never end. The server writes to its log file instead (`-l`).
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("PGPASSWORD")
        .env_remove("PGHOST")
        .env_remove("PGDATA");
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin
            .write_all(input.as_bytes())
            .unwrap_or_else(|e| panic!("write to {}: {e}", program.display()));
    }
    child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("wait for {}: {e}", program.display()))
}

fn text(out: &Output) -> String {
    format!(
        "{}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn path_string(path: &Path) -> String {
    path.to_str()
        .unwrap_or_else(|| panic!("{} is not UTF-8", path.display()))
        .to_string()
}

/// The newest server installed: `$MELLI_PG_BIN`, or the highest version under
/// `/usr/lib/postgresql/*/bin` (Debian's layout) that has `initdb` and `pg_ctl`.
pub fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("MELLI_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut found: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| {
                    let version = e.file_name().to_str()?.parse::<u32>().ok()?;
                    let bin = e.path().join("bin");
                    (bin.join("initdb").is_file() && bin.join("pg_ctl").is_file())
                        .then_some((version, bin))
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found.pop().map(|(_, bin)| bin).unwrap_or_else(|| {
        panic!(
            "no PostgreSQL server under /usr/lib/postgresql/*/bin: run scripts/setup (it installs \
             Debian's postgresql), or set MELLI_PG_BIN to a directory with initdb and pg_ctl"
        )
    })
}

/// Makes a new CA in `dir`: `NAME.key` (P-256) and `NAME.pem`, a self-signed certificate
/// valid for 30 days, with the `openssl` command; returns the certificate's path. Also for a
/// test's "another CA" that did not issue the server's certificate.
pub fn make_ca(dir: &Path, name: &str) -> PathBuf {
    let config = format!("{name}.cnf");
    fs::write(
        dir.join(&config),
        format!(
            "[req]\ndistinguished_name = dn\nx509_extensions = ext\nprompt = no\n[dn]\n\
             CN = melli test CA {name}\n[ext]\nbasicConstraints = critical, CA:TRUE\n\
             keyUsage = critical, keyCertSign, cRLSign\nsubjectKeyIdentifier = hash\n"
        ),
    )
    .unwrap_or_else(|e| panic!("write {config}: {e}"));
    let key = format!("{name}.key");
    let pem = format!("{name}.pem");
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-new",
            "-config",
            &config,
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &pem,
            "-days",
            "30",
        ],
    );
    dir.join(pem)
}

/// Runs the `openssl` command in `dir`; panics unless it succeeds.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run openssl: {e}"));
    assert!(out.status.success(), "openssl {args:?}: {}", text(&out));
}

/// A TCP port on 127.0.0.1 that nobody listens on now (the kernel's choice).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free TCP port on 127.0.0.1")
}

/// The name of the operating-system user running this process: the one the server sees at
/// the other end of its socket.
fn os_user() -> String {
    let out = Command::new("id")
        .arg("-un")
        .output()
        .unwrap_or_else(|e| panic!("cannot run id: {e}"));
    assert!(out.status.success(), "id -un: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Whether this process is root (then the server must run as [`SYSTEM_USER`]).
fn running_as_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("Uid:"))?;
            line.split_whitespace().nth(2).map(|euid| euid == "0")
        })
        .unwrap_or(false)
}

/// Where clusters are made: the temporary directory if every user may pass through it (the
/// server user must reach its socket), `/tmp` otherwise. Short, for the socket's path.
fn base_dir() -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let tmp = std::env::temp_dir();
    let open = fs::metadata(&tmp).is_ok_and(|m| m.permissions().mode() & 0o001 != 0);
    if open && tmp.as_os_str().len() < 60 {
        tmp
    } else {
        PathBuf::from("/tmp")
    }
}

/// `melli-pg-<test pid>-<random>`, mode 0700, owned by the server's user.
fn make_cluster_dir(base: &Path, as_system_user: bool) -> PathBuf {
    use std::os::unix::fs::DirBuilderExt;
    let dir = base.join(format!(
        "melli-pg-{}-{}",
        std::process::id(),
        &random_password()[..12]
    ));
    fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    if as_system_user {
        chown(&dir, false);
    }
    dir
}

fn chown(path: &Path, recursive: bool) {
    let mut command = Command::new("chown");
    if recursive {
        command.arg("-R");
    }
    let status = command
        .arg(format!("{SYSTEM_USER}:{SYSTEM_USER}"))
        .arg(path)
        .status()
        .unwrap_or_else(|e| panic!("cannot run chown: {e}"));
    assert!(status.success(), "chown {} failed", path.display());
}

/// Stops and removes the clusters of test processes that are gone.
fn sweep_dead_clusters(base: &Path, bin: &Path, as_system_user: bool) {
    let Ok(entries) = fs::read_dir(base) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("melli-pg-"))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid_alive(pid) {
            continue;
        }
        let dir = entry.path();
        let data = dir.join("data");
        if data.join("postmaster.pid").exists() {
            let args =
                ["-D", &path_string(&data), "-m", "immediate", "-w", "stop"].map(str::to_string);
            let _ = run_as(as_system_user, &dir, &bin.join("pg_ctl"), &args, None);
        }
        let _ = fs::remove_dir_all(&dir);
    }
}

/// Every process whose parent is `parent` (from /proc).
fn children_of(parent: u32) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| {
            fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| {
                    let rest = stat.rsplit_once(')')?.1.to_string();
                    rest.split_whitespace().nth(1)?.parse::<u32>().ok()
                })
                == Some(parent)
        })
        .collect()
}

/// 32 hex digits from the kernel's random source.
fn random_password() -> String {
    let mut bytes = [0u8; 16];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("read /dev/urandom");
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Percent-encoding of everything but unreserved characters (RFC 3986 §2.3).
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

#[cfg(test)]
mod tests {
    use super::*;

    fn connect(url: &str) -> Result<::postgres::Client, ::postgres::Error> {
        ::postgres::Client::connect(url, ::postgres::NoTls)
    }

    #[test]
    fn a_cluster_takes_the_password_refuses_others_and_survives_restart_and_kill() {
        let pg = Postgres::start_new();
        let mut client = connect(&pg.url()).expect("connect with the password");
        let row = client
            .query_one("SELECT current_user::text, current_database()::text", &[])
            .expect("query");
        assert_eq!(row.get::<_, String>(0), ROLE);
        assert_eq!(row.get::<_, String>(1), DATABASE);
        client
            .batch_execute("CREATE TABLE kept (n integer); INSERT INTO kept VALUES (7)")
            .expect("write");
        drop(client);

        let wrong = connect(&pg.url_with_password("not-the-password"))
            .err()
            .expect("a wrong password is refused");
        assert!(
            wrong
                .as_db_error()
                .is_some_and(|e| e.message().contains("password authentication failed")),
            "{wrong:?}"
        );
        // The key-value form reaches the same database.
        connect(&pg.key_value()).expect("key-value form");
        // Nothing on TCP.
        assert!(!pg.log().contains("listening on IPv4"), "{}", pg.log());

        pg.restart();
        let mut client = connect(&pg.url()).expect("after restart");
        pg.kill();
        assert!(!pg.is_running());
        assert!(
            client.query_one("SELECT 1", &[]).is_err(),
            "a killed server answered"
        );
        pg.start();
        let mut client = connect(&pg.url()).expect("after the crash");
        let n: i32 = client
            .query_one("SELECT n FROM kept", &[])
            .expect("kept")
            .get(0);
        assert_eq!(n, 7);
        assert_eq!(pg.superuser_sql("SELECT count(*) FROM kept").trim(), "1");

        pg.stop();
        assert!(connect(&pg.url()).is_err(), "a stopped server answered");
        let dir = pg.socket_dir().to_path_buf();
        drop(pg);
        assert!(!dir.exists(), "the cluster's directory is left");
    }

    #[test]
    fn socket_directories_are_percent_encoded() {
        assert_eq!(
            percent_encoded("/tmp/melli-pg-1_a"),
            "%2Ftmp%2Fmelli-pg-1_a"
        );
    }
}
