//! TEMPORARY stand-in (lead's experiment), replaced by the helper's module at merge.
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use zeroize::Zeroizing;

pub struct PinRequest {
    pub title: String,
    pub description: String,
    pub prompt: String,
}

#[derive(Debug)]
pub enum PinentryError {
    Cancelled,
    Failed(String),
}

pub fn ask(program: &Path, request: &PinRequest) -> Result<Zeroizing<String>, PinentryError> {
    let mut child = Command::new(program)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| PinentryError::Failed(e.to_string()))?;
    let mut stdin = child.stdin.take().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).ok();
    let _ = writeln!(stdin, "SETDESC {}", request.description.replace(' ', "%20"));
    line.clear();
    out.read_line(&mut line).ok();
    let _ = writeln!(stdin, "GETPIN");
    let mut pin = Zeroizing::new(String::new());
    loop {
        line.clear();
        if out.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        if let Some(d) = line.strip_prefix("D ") {
            pin.push_str(d.trim_end());
        } else if line.starts_with("OK") {
            break;
        } else if line.starts_with("ERR") {
            let _ = child.kill();
            let _ = child.wait();
            return Err(PinentryError::Cancelled);
        }
    }
    drop(stdin);
    let _ = child.wait();
    Ok(pin)
}
