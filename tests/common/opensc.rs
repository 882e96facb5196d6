//! `opensc-tool -s`, a peer that sends APDUs to a card in one of our readers.

use std::process::Command;
use std::time::Duration;

use super::{run, Output};

/// One APDU exchange as `opensc-tool -s` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenscExchange {
    /// The command, hex without spaces.
    pub sent: String,
    /// The status word, e.g. "9000".
    pub sw: String,
    /// The response data, hex without spaces.
    pub data: String,
}

/// Runs `opensc-tool -r INDEX -s APDU…` and parses each exchange.
pub fn opensc_send(index: usize, apdus: &[&str]) -> (Output, Vec<OpenscExchange>) {
    let mut command = Command::new("opensc-tool");
    command.arg("-r").arg(index.to_string());
    for apdu in apdus {
        command.arg("-s").arg(apdu);
    }
    let out = run(&mut command, Duration::from_secs(120));
    let mut exchanges: Vec<OpenscExchange> = Vec::new();
    // Data lines come from util_hex_dump_asc: "XX " per byte (16 a line), then the printable
    // bytes as ASCII; the first line is not padded (3n + n characters), later ones are padded
    // to 48 before the ASCII column.
    let mut data_line = 0;
    for line in out.stdout.lines() {
        if let Some(sent) = line.strip_prefix("Sending: ") {
            exchanges.push(OpenscExchange {
                sent: sent.split_whitespace().collect(),
                sw: String::new(),
                data: String::new(),
            });
            data_line = usize::MAX;
        } else if let Some(rest) = line.strip_prefix("Received (SW1=0x") {
            // "Received (SW1=0x90, SW2=0x00)", with ":" when data lines follow.
            let sw1 = rest.get(..2).unwrap_or_default();
            let sw2 = rest
                .split("SW2=0x")
                .nth(1)
                .and_then(|s| s.get(..2))
                .unwrap_or_default();
            if let Some(last) = exchanges.last_mut() {
                last.sw = format!("{sw1}{sw2}").to_uppercase();
            }
            data_line = 0;
        } else if data_line != usize::MAX && line.is_ascii() && !line.is_empty() {
            let Some(last) = exchanges.last_mut() else {
                continue;
            };
            let hex_part = if data_line == 0 {
                &line[..3 * (line.len() / 4)]
            } else {
                &line[..line.len().min(48)]
            };
            last.data
                .extend(hex_part.split_whitespace().map(str::to_uppercase));
            data_line += 1;
        }
    }
    (out, exchanges)
}
