//! The card's lifecycle state (§7), host side.

use std::fmt;

use crate::spec::lifecycle as lcs;

/// Where a card is in its life: only ever moves forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Lifecycle {
    /// Manufactured; holds only its serial and personalization keys.
    Blank,
    /// Being personalized: data may be written under the secure channel.
    Personalizing,
    /// Issued and locked: only PIN state can change.
    Operational,
    /// Permanently out of use.
    Terminated,
}

impl Lifecycle {
    pub fn name(self) -> &'static str {
        match self {
            Lifecycle::Blank => "blank",
            Lifecycle::Personalizing => "personalizing",
            Lifecycle::Operational => "operational",
            Lifecycle::Terminated => "terminated",
        }
    }

    /// The life cycle status byte on the card.
    pub fn byte(self) -> u8 {
        match self {
            Lifecycle::Blank => lcs::BLANK,
            Lifecycle::Personalizing => lcs::PERSONALIZING,
            Lifecycle::Operational => lcs::OPERATIONAL,
            Lifecycle::Terminated => lcs::TERMINATED,
        }
    }
}

impl TryFrom<u8> for Lifecycle {
    type Error = u8;
    fn try_from(byte: u8) -> Result<Self, u8> {
        match byte {
            lcs::BLANK => Ok(Lifecycle::Blank),
            lcs::PERSONALIZING => Ok(Lifecycle::Personalizing),
            lcs::OPERATIONAL => Ok(Lifecycle::Operational),
            lcs::TERMINATED => Ok(Lifecycle::Terminated),
            other => Err(other),
        }
    }
}

impl fmt::Display for Lifecycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl serde::Serialize for Lifecycle {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_state() {
        for state in [
            Lifecycle::Blank,
            Lifecycle::Personalizing,
            Lifecycle::Operational,
            Lifecycle::Terminated,
        ] {
            assert_eq!(Lifecycle::try_from(state.byte()), Ok(state));
        }
        assert_eq!(Lifecycle::try_from(0x42), Err(0x42));
    }
}
