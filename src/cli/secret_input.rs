//! Reading PINs and PUKs from the operator (personalize, sign, pin).

use std::io::{BufRead, IsTerminal};

use zeroize::Zeroizing;

use melli::model::{Secret, SecretKind};

use crate::cli::Failure;

/// Where secrets come from: the terminal without echo, or stdin one per line (scripts).
pub struct SecretInput {
    stdin: bool,
    lines: Option<std::io::Lines<std::io::StdinLock<'static>>>,
}

impl SecretInput {
    pub fn new(stdin: bool) -> Result<Self, Failure> {
        if !stdin && !std::io::stdin().is_terminal() {
            return Err(Failure::bad_input(
                "no terminal to ask for the PIN: pass it on stdin with --pin-stdin",
            ));
        }
        Ok(SecretInput { stdin, lines: None })
    }

    /// Reads one secret, checked for its kind. `label` names it in the prompt.
    pub fn read(&mut self, kind: SecretKind, label: &str) -> Result<Secret, Failure> {
        let text = if self.stdin {
            let lines = self
                .lines
                .get_or_insert_with(|| std::io::stdin().lock().lines());
            Zeroizing::new(
                lines
                    .next()
                    .transpose()
                    .map_err(|e| Failure::bad_input(format!("reading stdin: {e}")))?
                    .ok_or_else(|| {
                        Failure::bad_input(format!(
                            "stdin ended before the {label} — give each secret on its own line, \
                             in the order they are asked"
                        ))
                    })?,
            )
        } else {
            Zeroizing::new(
                rpassword::prompt_password(format!("{label}: "))
                    .map_err(|e| Failure::bad_input(format!("reading the {label}: {e}")))?,
            )
        };
        Secret::parse(kind, &text).map_err(|e| Failure::bad_input(format!("{label}: {e}")))
    }
}
