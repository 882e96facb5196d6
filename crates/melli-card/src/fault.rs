//! Faults the virtual card can be told to commit, so that tests can show what the host does
//! with a card that lies (`melli card serve --fault NAME`, a hidden option for tests only). A
//! card is made without any; a fault lives only as long as the card object, never in its state
//! file.

use std::fmt;
use std::str::FromStr;

/// One way for the card to misbehave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// GENERATE ASYMMETRIC KEY PAIR of the chip-authentication key (`02`) answers with the key
    /// it generated, as usual, but writes into DG5 the public key of another, fresh P-256 key
    /// pair whose private half is thrown away: a DG5 the chip cannot prove.
    ForeignDg5,
}

impl Fault {
    /// Every fault, for the list an unknown name is answered with.
    pub const ALL: [Fault; 1] = [Fault::ForeignDg5];

    /// The fault's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Fault::ForeignDg5 => "foreign-dg5",
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A fault name that is none of [`Fault::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown card fault {name:?}: the faults are {known}")]
pub struct UnknownFault {
    name: String,
    known: String,
}

impl FromStr for Fault {
    type Err = UnknownFault;

    fn from_str(name: &str) -> Result<Fault, UnknownFault> {
        Fault::ALL
            .into_iter()
            .find(|fault| fault.name() == name)
            .ok_or_else(|| UnknownFault {
                name: name.to_owned(),
                known: Fault::ALL.map(Fault::name).join(", "),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_and_unknown_names_are_refused() {
        for fault in Fault::ALL {
            assert_eq!(fault.name().parse::<Fault>(), Ok(fault));
        }
        let unknown = "foreign-dg6".parse::<Fault>().unwrap_err();
        assert_eq!(
            unknown.to_string(),
            "unknown card fault \"foreign-dg6\": the faults are foreign-dg5"
        );
    }
}
