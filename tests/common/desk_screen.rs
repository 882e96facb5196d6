//! A running `melli desk` (the desk screen's server, issue 19) on loopback with a port the
//! system picks: started with the arguments a test gives, its URL read from the first line of
//! its stdout, its stderr kept in a file for failure messages, killed when dropped.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use super::{process, MELLI};

pub struct DeskScreen {
    child: Child,
    url: String,
    log: PathBuf,
}

impl DeskScreen {
    /// `melli desk --trust ROOT --listen 127.0.0.1:0 --no-open --desk-name NAME --readers
    /// READER`, its stderr in `dir/desk.log`.
    pub fn start(dir: &Path, root: &str, name: &str, reader: &str) -> DeskScreen {
        process();
        let log = dir.join("desk.log");
        let stderr = std::fs::File::create(&log).expect("the desk's log file");
        let mut child = Command::new(MELLI)
            .args([
                "desk",
                "--trust",
                root,
                "--listen",
                "127.0.0.1:0",
                "--no-open",
                "--desk-name",
                name,
                "--readers",
                reader,
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("start melli desk");
        let stdout = child.stdout.take().expect("the desk's stdout");
        let (tx, rx) = mpsc::channel();
        // The first line only; the pipe stays open (and unread) while the desk runs.
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = tx.send(line);
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });
        let line = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
        let desk = DeskScreen {
            child,
            url: line.trim_end().to_string(),
            log,
        };
        assert!(
            desk.url.starts_with("http://127.0.0.1:") && desk.url.contains("/t/"),
            "melli desk's first line is not its URL: {line:?}\ndesk log:\n{}",
            desk.log()
        );
        desk
    }

    /// The page's URL, as the desk printed it (`http://127.0.0.1:PORT/t/TOKEN/`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The desk's stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for DeskScreen {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
