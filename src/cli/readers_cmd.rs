//! `melli readers` and `melli info`: the readers, and the card in one.

use std::process::ExitCode;

use melli::applet::Applet;
use melli::display::escaped;
use melli::transport::{list_readers, PcscTransport};

use crate::cli::output;
use crate::cli::Failure;

pub fn readers(json: bool) -> Result<ExitCode, Failure> {
    let readers = list_readers()?;
    if json {
        output::json(&output::json_from_outside(
            &serde_json::json!({ "readers": readers }),
        )?)?;
    } else if readers.is_empty() {
        println!("no readers");
    } else {
        for r in &readers {
            let card = match &r.atr {
                Some(atr) => format!("card  {}", escaped(atr)),
                None if r.card_present => "card".to_string(),
                None => "empty".to_string(),
            };
            println!("{}  {card}", escaped(&r.name));
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn info(reader: Option<&str>, json: bool) -> Result<ExitCode, Failure> {
    let transport = PcscTransport::connect(reader)?;
    let mut applet = Applet::select(transport)?;
    let info = applet.info()?;
    if json {
        output::json(&output::json_from_outside(&info)?)?;
    } else {
        output::rows(&[
            ("reader", escaped(&info.reader)),
            ("ATR", escaped(&info.atr)),
            ("serial", escaped(&info.serial)),
            ("lifecycle", info.lifecycle.to_string()),
            ("spec version", escaped(&info.spec_version)),
        ]);
    }
    Ok(ExitCode::SUCCESS)
}
