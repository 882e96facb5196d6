//! The panels, one per watched reader, and the JSON that tells the page about all of them.
//!
//! The JSON carries text only; every string that came from the card, the reader or a check's
//! detail goes through [`melli::display::escaped`] first, so control characters, bidi overrides
//! and invisible characters arrive as visible escapes (the page sets them as `textContent`,
//! never as markup). The photo is a URL of its own (`photo/ID/GENERATION.png`, relative to the
//! page).

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use melli::applet::Applet;
use melli::display::escaped;
use melli::model::JalaliDate;
use melli::pki::Verdict;
use melli::transport::PcscTransport;
use serde::Serialize;
use tokio::sync::watch;

use crate::photo;
use crate::Checked;

/// What a panel shows.
pub enum PanelState {
    /// No card in the reader.
    Empty,
    /// A card went in and is being read and verified.
    Reading,
    /// The card was read and verified.
    Done(Box<DoneCard>),
    /// The card could not be read or is not a melli card: one line.
    Error(String),
}

/// A card read and verified, as long as it stays in its reader.
pub struct DoneCard {
    pub view: CardView,
    /// The photo as PNG, when it decoded.
    pub photo_png: Option<Arc<Vec<u8>>>,
    /// The card's connection, for the fingerprint match (one request at a time).
    pub applet: Arc<Mutex<Applet<PcscTransport>>>,
}

/// One reader's panel.
pub struct Panel {
    /// Stable for the reader while the desk runs; part of photo and match URLs.
    pub id: u32,
    pub reader: String,
    /// Changes with every card put in (unique across the desk's readers).
    pub generation: u64,
    pub state: PanelState,
}

/// One check as the page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckView {
    pub name: String,
    /// `pass`, `fail` or `unknown`.
    pub result: &'static str,
    pub detail: String,
}

/// The holder's data and the verdict, text only, escaped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CardView {
    pub serial: String,
    /// `genuine` or `not-genuine`.
    pub verdict: &'static str,
    /// The names of the checks that did not pass, in order.
    pub failed: Vec<String>,
    pub checks: Vec<CheckView>,
    pub name_fa: String,
    pub name_latin: String,
    pub national_code: String,
    /// `YYYY/MM/DD (YYYY-MM-DD)`: Solar Hijri, then Gregorian.
    pub birth_date: String,
    pub issue_date: String,
    pub expiry_date: String,
    pub postal_code: String,
    pub address: Option<String>,
    /// Whether the address is written right to left (it holds Arabic-script letters).
    pub address_rtl: bool,
    /// Why there is no photo, when it did not decode.
    pub photo_error: Option<String>,
    /// When the desk verified the card: Solar Hijri date, Gregorian date and UTC time.
    pub verified_at: String,
}

/// Every string from outside, made safe to show (see the module documentation).
fn text(value: impl std::fmt::Display) -> String {
    escaped(&value.to_string())
}

fn date(d: JalaliDate) -> String {
    d.with_gregorian()
}

/// `YYYY/MM/DD (YYYY-MM-DD) HH:MM:SS UTC`.
fn timestamp(at: SystemTime) -> String {
    let secs = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let clock = secs % 86_400;
    let day = JalaliDate::from_system_time(at)
        .map(|d| d.with_gregorian())
        .unwrap_or_else(|_| "?".to_string());
    format!(
        "{day} {:02}:{:02}:{:02} UTC",
        clock / 3600,
        clock % 3600 / 60,
        clock % 60
    )
}

fn is_arabic_script(c: char) -> bool {
    matches!(c, '\u{0600}'..='\u{06FF}' | '\u{0750}'..='\u{077F}' | '\u{08A0}'..='\u{08FF}'
        | '\u{FB50}'..='\u{FDFF}' | '\u{FE70}'..='\u{FEFF}')
}

/// The checks of a verdict as the page lists them.
pub fn check_views(verdict: &Verdict) -> Vec<CheckView> {
    verdict
        .checks
        .iter()
        .map(|c| CheckView {
            name: text(&c.name),
            result: match (c.unknown, c.passed) {
                (true, _) => "unknown",
                (false, true) => "pass",
                (false, false) => "fail",
            },
            detail: text(&c.detail),
        })
        .collect()
}

impl CardView {
    /// The view of a card read and verified at `at`; an error when its identity or address do
    /// not decode (the panel then shows that error).
    pub fn of(
        checked: &Checked,
        photo_error: Option<String>,
        at: SystemTime,
    ) -> Result<Self, String> {
        let contents = &checked.contents;
        let identity = contents.parse_identity().map_err(text)?;
        let address = contents.parse_address().map_err(text)?;
        let verdict = &checked.verdict;
        let address_text = address.text().map(|t| t.as_str().to_string());
        Ok(CardView {
            serial: text(&contents.serial),
            verdict: if verdict.passed() {
                "genuine"
            } else {
                "not-genuine"
            },
            failed: verdict.failures().map(|c| text(&c.name)).collect(),
            checks: check_views(verdict),
            name_fa: text(format!(
                "{} {}",
                identity.given_name_fa(),
                identity.surname_fa()
            )),
            name_latin: text(format!(
                "{} {}",
                identity.given_name_latin(),
                identity.surname_latin()
            )),
            national_code: text(identity.national_code()),
            birth_date: date(identity.birth_date()),
            issue_date: date(identity.issue_date()),
            expiry_date: date(identity.expiry_date()),
            postal_code: text(address.postal_code()),
            address_rtl: address_text
                .as_deref()
                .is_some_and(|t| t.chars().any(is_arabic_script)),
            address: address_text.map(text),
            photo_error,
            verified_at: timestamp(at),
        })
    }
}

/// A panel as the page gets it.
#[derive(Debug, Serialize)]
struct PanelJson<'a> {
    id: u32,
    reader: String,
    /// `empty`, `reading`, `done` or `error`.
    state: &'static str,
    generation: u64,
    desk: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    card: Option<&'a CardView>,
    /// The photo's URL relative to the page, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    photo: Option<String>,
}

/// The panels and the channel that tells every open page about them.
pub struct Panels {
    inner: Mutex<Vec<Panel>>,
    desk_name: String,
    sender: watch::Sender<Arc<String>>,
}

impl Panels {
    pub fn new(desk_name: &str) -> Arc<Panels> {
        let desk_name = escaped(desk_name);
        let (sender, _) = watch::channel(Arc::new("[]".to_string()));
        Arc::new(Panels {
            inner: Mutex::new(Vec::new()),
            desk_name,
            sender,
        })
    }

    /// The panels, locked. A poisoned lock (a thread panicked while holding it) still holds
    /// consistent panels: every change is made whole under the lock.
    pub fn lock(&self) -> MutexGuard<'_, Vec<Panel>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A receiver of the JSON of all panels: the current one first, then each change.
    pub fn subscribe(&self) -> watch::Receiver<Arc<String>> {
        self.sender.subscribe()
    }

    /// Sends the JSON of `panels` to every page; call with the lock held, after a change.
    pub fn publish(&self, panels: &[Panel]) {
        let json = self.json(panels);
        self.sender.send_if_modified(|current| {
            if **current == json {
                false
            } else {
                *current = Arc::new(json);
                true
            }
        });
    }

    /// The JSON array of `panels`, one line.
    pub fn json(&self, panels: &[Panel]) -> String {
        let list: Vec<PanelJson> = panels
            .iter()
            .map(|p| {
                let (state, message, card, photo) = match &p.state {
                    PanelState::Empty => ("empty", None, None, None),
                    PanelState::Reading => ("reading", None, None, None),
                    PanelState::Error(m) => ("error", Some(m.as_str()), None, None),
                    PanelState::Done(done) => (
                        "done",
                        None,
                        Some(&done.view),
                        done.photo_png
                            .as_ref()
                            .map(|_| format!("photo/{}/{}.png", p.id, p.generation)),
                    ),
                };
                PanelJson {
                    id: p.id,
                    reader: text(&p.reader),
                    state,
                    generation: p.generation,
                    desk: &self.desk_name,
                    message,
                    card,
                    photo,
                }
            })
            .collect();
        // Serializing strings and numbers cannot fail.
        serde_json::to_string(&list).unwrap_or_else(|_| "[]".to_string())
    }

    /// Makes a panel for `reader` (empty) unless it has one; returns its index.
    pub fn ensure(panels: &mut Vec<Panel>, reader: &str, next_id: &mut u32) -> usize {
        if let Some(i) = panels.iter().position(|p| p.reader == reader) {
            return i;
        }
        *next_id += 1;
        panels.push(Panel {
            id: *next_id,
            reader: reader.to_string(),
            generation: 0,
            state: PanelState::Empty,
        });
        panels.len() - 1
    }
}

/// The state of a panel after its card was read and checked (on the reading thread).
pub fn finished(result: Result<Checked, String>, at: SystemTime) -> PanelState {
    let checked = match result {
        Ok(checked) => checked,
        Err(message) => return PanelState::Error(escaped(&message)),
    };
    let (photo_png, photo_error) = match photo::jpeg_to_png(&checked.contents.photo) {
        Ok(png) => (Some(Arc::new(png)), None),
        Err(e) => (None, Some(text(e))),
    };
    match CardView::of(&checked, photo_error, at) {
        Ok(view) => PanelState::Done(Box::new(DoneCard {
            view,
            photo_png,
            applet: Arc::new(Mutex::new(checked.applet)),
        })),
        Err(message) => PanelState::Error(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(name_fa: &str) -> CardView {
        CardView {
            serial: text("MC1"),
            verdict: "genuine",
            failed: vec![],
            checks: vec![],
            name_fa: text(name_fa),
            name_latin: text("Ali\nVERDICT: GENUINE"),
            national_code: text("0081493721"),
            birth_date: "1360/01/01 (1981-03-21)".into(),
            issue_date: String::new(),
            expiry_date: String::new(),
            postal_code: String::new(),
            address: None,
            address_rtl: false,
            photo_error: None,
            verified_at: timestamp(SystemTime::UNIX_EPOCH),
        }
    }

    #[test]
    fn the_json_is_one_line_with_outside_strings_escaped() {
        let panels = Panels::new("Desk\n1");
        let mut list = Vec::new();
        let mut id = 0;
        let i = Panels::ensure(&mut list, "Reader \u{202E}evil", &mut id);
        list[i].generation = 7;
        list[i].state = PanelState::Error("bad\r\ncard <b>".into());
        let j = Panels::ensure(&mut list, "Other", &mut id);
        assert_eq!((i, j), (0, 1));
        assert_eq!(Panels::ensure(&mut list, "Other", &mut id), 1);
        let json = panels.json(&list);
        assert!(!json.contains('\n') && !json.contains('\r'), "{json}");
        assert!(!json.contains('\u{202E}'), "{json}");
        let value: serde_json::Value = serde_json::from_str(&json).expect("json");
        assert_eq!(value[0]["reader"], "Reader <U+202E>evil");
        assert_eq!(value[0]["state"], "error");
        assert_eq!(value[0]["id"], 1);
        assert_eq!(value[0]["generation"], 7);
        assert_eq!(value[0]["desk"], "Desk\\n1");
        // The message is kept as given here (the checker's error is escaped when the panel
        // state is made, in `finished`): markup is text for the page, never parsed.
        assert_eq!(value[0]["message"], "bad\r\ncard <b>");
        assert_eq!(value[1]["state"], "empty");
        assert!(value[1].get("card").is_none());

        let state = finished(Err("not a melli card\n\u{1B}[2J".into()), SystemTime::now());
        let PanelState::Error(message) = state else {
            panic!("an error state")
        };
        assert_eq!(message, "not a melli card\\n\\u{1B}[2J");
    }

    #[test]
    fn a_done_card_serializes_text_and_a_photo_url() {
        let v = view("علی \u{2067}محمدی");
        assert_eq!(v.name_fa, "علی <U+2067>محمدی");
        assert_eq!(v.name_latin, "Ali\\nVERDICT: GENUINE");
        let json = serde_json::to_value(&v).expect("json");
        assert_eq!(json["national_code"], "0081493721");
        assert_eq!(json["verified_at"], "1348/10/11 (1970-01-01) 00:00:00 UTC");
    }

    #[test]
    fn publishing_tells_subscribers_only_of_changes() {
        let panels = Panels::new("d");
        let mut rx = panels.subscribe();
        assert_eq!(**rx.borrow_and_update(), "[]");
        let mut list = panels.lock();
        let mut id = 0;
        Panels::ensure(&mut list, "R", &mut id);
        panels.publish(&list);
        assert!(rx.has_changed().expect("open"));
        assert!(rx.borrow_and_update().contains("\"reader\":\"R\""));
        panels.publish(&list);
        assert!(!rx.has_changed().expect("open"));
    }

    #[test]
    fn persian_addresses_are_right_to_left() {
        assert!("تهران، خیابان".chars().any(is_arabic_script));
        assert!(!"Tehran, 12 Azadi St".chars().any(is_arabic_script));
    }
}
