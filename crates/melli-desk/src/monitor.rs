//! The reader monitor: one thread that watches the readers through pcscd and keeps a panel per
//! reader. A card put in (pcscd counts a new card event) is read and verified on a thread of its
//! own, so a slow card never holds up the other readers or the removal of a card; a card taken
//! out clears its panel at once, and the result of a reading whose card has left is thrown away.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use melli::transport::{list_readers, wait_for_change, ReaderInfo};

use crate::state::{finished, PanelState, Panels};
use crate::CardChecker;

/// How long the monitor waits for pcscd to tell of a change before it looks again anyway.
const POLL: Duration = Duration::from_millis(250);

/// Which readers the desk watches: every reader, or those that `wanted` names — each entry the
/// full name of a reader, or else a part of names (any case).
#[derive(Debug, Clone, Default)]
pub struct ReaderFilter {
    pub wanted: Vec<String>,
}

impl ReaderFilter {
    /// Whether `reader`, one of the readers now known (`all`), is watched. An entry that is
    /// the full name of a known reader names that reader alone.
    pub fn watches(&self, reader: &str, all: &[&str]) -> bool {
        if self.wanted.is_empty() {
            return true;
        }
        let lower = reader.to_lowercase();
        self.wanted.iter().any(|w| {
            if all.contains(&w.as_str()) {
                w == reader
            } else {
                lower.contains(&w.to_lowercase())
            }
        })
    }
}

/// What the monitor remembers of a reader between two looks.
struct Seen {
    info: ReaderInfo,
}

/// Generation numbers, unique across the desk: a photo or match URL of an earlier card never
/// names the card now in the reader.
static GENERATION: AtomicU64 = AtomicU64::new(0);

fn next_generation() -> u64 {
    GENERATION.fetch_add(1, Ordering::Relaxed) + 1
}

/// Watches the readers until the process ends. Errors of the PC/SC service are written to
/// stderr once each time they start, and the monitor keeps trying.
pub fn run(panels: Arc<Panels>, checker: Arc<dyn CardChecker>, filter: ReaderFilter) {
    let mut seen: Vec<Seen> = Vec::new();
    let mut next_id = 0u32;
    let mut failing = false;
    loop {
        let readers = match list_readers() {
            Ok(readers) => {
                if failing {
                    eprintln!("melli desk: the PC/SC service answers again");
                    failing = false;
                }
                readers
            }
            Err(e) => {
                if !failing {
                    eprintln!(
                        "melli desk: cannot list the readers: {} — is pcscd running?",
                        melli::display::escaped(&e.to_string())
                    );
                    failing = true;
                }
                std::thread::sleep(Duration::from_secs(1));
                continue;
            }
        };
        let names: Vec<String> = readers.iter().map(|r| r.name.clone()).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let watched: Vec<ReaderInfo> = readers
            .into_iter()
            .filter(|r| filter.watches(&r.name, &names))
            .collect();
        {
            let mut list = panels.lock();
            // Readers that went away take their panel (and any card connection) with them.
            list.retain(|p| watched.iter().any(|r| r.name == p.reader));
            for reader in &watched {
                let i = Panels::ensure(&mut list, &reader.name, &mut next_id);
                let before = seen.iter().find(|s| s.info.name == reader.name);
                let new_card = reader.card_present
                    && before
                        .is_none_or(|b| !b.info.card_present || b.info.events != reader.events);
                let panel = &mut list[i];
                if new_card {
                    let generation = next_generation();
                    panel.generation = generation;
                    panel.state = PanelState::Reading;
                    start_reading(&panels, &checker, reader.name.clone(), generation);
                } else if !reader.card_present && !matches!(panel.state, PanelState::Empty) {
                    // Dropping a done card's connection lets go of the card.
                    panel.state = PanelState::Empty;
                }
            }
            panels.publish(&list);
        }
        seen = watched.into_iter().map(|info| Seen { info }).collect();
        let infos: Vec<ReaderInfo> = seen.iter().map(|s| s.info.clone()).collect();
        if wait_for_change(&infos, POLL).is_err() {
            std::thread::sleep(POLL);
        }
    }
}

/// Reads and checks the card in `reader` on a thread of its own, then shows the result if the
/// panel still waits for this card (`generation`).
fn start_reading(
    panels: &Arc<Panels>,
    checker: &Arc<dyn CardChecker>,
    reader: String,
    generation: u64,
) {
    let panels = Arc::clone(panels);
    let checker = Arc::clone(checker);
    std::thread::spawn(move || {
        let result = checker.check(&reader);
        let state = finished(result, SystemTime::now());
        let mut list = panels.lock();
        if let Some(panel) = list
            .iter_mut()
            .find(|p| p.reader == reader && p.generation == generation)
        {
            if matches!(panel.state, PanelState::Reading) {
                panel.state = state;
                panels.publish(&list);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_takes_full_names_and_parts() {
        let all = ReaderFilter::default();
        assert!(all.watches("anything", &["anything"]));
        let some = ReaderFilter {
            wanted: vec!["Virtual PCD 00 01".into(), "acs".into()],
        };
        let known = [
            "Virtual PCD 00 01",
            "Virtual PCD 00 01 (2)",
            "ACS ACR39U 00 00",
            "Virtual PCD 00 00",
        ];
        assert!(some.watches("Virtual PCD 00 01", &known));
        // A full name names its reader alone, not every reader whose name holds it.
        assert!(!some.watches("Virtual PCD 00 01 (2)", &known));
        assert!(some.watches("ACS ACR39U 00 00", &known));
        assert!(!some.watches("Virtual PCD 00 00", &known));
        // Before its reader is connected, a full name is a part like any other.
        assert!(some.watches("Virtual PCD 00 01 (2)", &["Virtual PCD 00 01 (2)"]));
    }

    #[test]
    fn generations_never_repeat() {
        let a = next_generation();
        let b = next_generation();
        assert!(b > a);
    }
}
