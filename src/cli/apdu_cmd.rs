//! `melli apdu`: raw command APDUs to a card, each answer with what its status word means.

use std::process::ExitCode;

use melli::apdu::Command;
use melli::display::escaped;
use melli::transport::{CardChannel, PcscTransport};

use crate::cli::output;
use crate::cli::Failure;

/// One exchange as `melli apdu --json` reports it.
#[derive(serde::Serialize)]
struct Exchange {
    command: String,
    data: String,
    sw: String,
    meaning: String,
}

pub fn apdu(apdus: &[String], reader: Option<&str>, json: bool) -> Result<ExitCode, Failure> {
    // Parse everything first: a typo in the third APDU must not leave the first two sent.
    let commands = apdus
        .iter()
        .enumerate()
        .map(|(i, text)| {
            parse_apdu(text).map_err(|e| Failure::bad_input(format!("APDU {}: {e}", i + 1)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut channel = CardChannel::new(PcscTransport::connect(reader)?);
    let mut exchanges = Vec::with_capacity(commands.len());
    for (text, command) in commands {
        let response = channel.send(&command)?;
        let exchange = Exchange {
            command: text,
            data: hex::encode_upper(&*response.data),
            sw: response.sw.to_string(),
            meaning: response.sw.meaning(),
        };
        if !json {
            println!("> {}", exchange.command);
            if exchange.data.is_empty() {
                println!("< {} ({})", exchange.sw, exchange.meaning);
            } else {
                println!("< {} {} ({})", exchange.data, exchange.sw, exchange.meaning);
            }
        }
        exchanges.push(exchange);
    }
    if json {
        output::json(&exchanges)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Hex text to a command APDU, ignoring spaces and colons.
fn parse_apdu(text: &str) -> Result<(String, Command), String> {
    let clean: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect::<String>()
        .to_uppercase();
    let bytes =
        hex::decode(&clean).map_err(|e| format!("\"{}\" is not hex ({e})", escaped(text)))?;
    let (command, _) = Command::parse(&bytes).map_err(|e| e.to_string())?;
    Ok((clean, command))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hex_with_separators() {
        let (clean, cmd) = parse_apdu("00 a4:04 0c 07 F04D454C4C4901").expect("valid");
        assert_eq!(clean, "00A4040C07F04D454C4C4901");
        assert_eq!(cmd.ins, 0xA4);
        assert!(parse_apdu("00A4zz").is_err());
        assert!(parse_apdu("00A4").is_err());
        assert!(parse_apdu("00A4040C05AA").is_err());
    }
}
