//! Dates in the Solar Hijri (Jalali, Persian) calendar, checked with `icu_calendar`'s Persian
//! calendar, whose leap years follow the astronomical rule (DESIGN §5).

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use icu_calendar::cal::Persian;
use icu_calendar::types::RataDie;
use icu_calendar::{Date, Iso};

use super::text::ascii_digits;

/// Earliest Solar Hijri year melli accepts (1821 CE).
pub const MIN_YEAR: u16 = 1200;
/// Latest Solar Hijri year melli accepts (2221 CE). Kept well below the Gregorian years of
/// today, so that a Gregorian date typed by mistake is caught.
pub const MAX_YEAR: u16 = 1599;

/// Iran Standard Time is UTC+03:30 all year (no daylight saving since 1401/2022).
const IRAN_OFFSET_SECONDS: i64 = 3 * 3600 + 30 * 60;
/// Rata Die (fixed day number) of 1970-01-01.
const UNIX_EPOCH_RATA_DIE: i64 = 719_163;

const MONTH_NAMES: [&str; 12] = [
    "Farvardin",
    "Ordibehesht",
    "Khordad",
    "Tir",
    "Mordad",
    "Shahrivar",
    "Mehr",
    "Aban",
    "Azar",
    "Dey",
    "Bahman",
    "Esfand",
];

/// A real day of the Solar Hijri calendar between [`MIN_YEAR`] and [`MAX_YEAR`].
///
/// Ordered chronologically. Shown as `YYYY/MM/DD`; stored on the card as the eight ASCII
/// digits `YYYYMMDD` (applets-spec §5.1).
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct JalaliDate {
    // Field order gives the chronological `Ord`.
    year: u16,
    month: u8,
    day: u8,
}

/// Why a date was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JalaliDateError {
    #[error("is empty")]
    Empty,
    #[error("is {text:?}, not a date written YYYY/MM/DD")]
    Format { text: String },
    #[error("is {text:?}, not a date written as eight digits YYYYMMDD")]
    CardFormat { text: String },
    #[error("year {year} is outside {MIN_YEAR}–{MAX_YEAR}{}", if (1900..=2199).contains(year) { "; it looks like a Gregorian year" } else { "" })]
    Year { year: i64 },
    #[error("month {month} does not exist; the months are 1 to 12")]
    Month { month: u8 },
    #[error("{year:04}/{month:02}/{day:02} does not exist: {name} {year} has {days} days{leap_note}", name = MONTH_NAMES[usize::from(*month) - 1])]
    Day {
        year: u16,
        month: u8,
        day: u8,
        days: u8,
        leap_note: &'static str,
    },
    #[error("{year:04}-{month:02}-{day:02} is not a Gregorian date")]
    Gregorian { year: i32, month: u8, day: u8 },
    #[error("the system clock is set to a time outside {MIN_YEAR}–{MAX_YEAR}")]
    Clock,
}

impl JalaliDateError {
    /// What the person fixing the record should do.
    pub fn hint(&self) -> &'static str {
        match self {
            JalaliDateError::Empty | JalaliDateError::Format { .. } => {
                "write the Solar Hijri date as YYYY/MM/DD, e.g. 1370/06/31"
            }
            JalaliDateError::CardFormat { .. } => "the card holds a malformed date",
            JalaliDateError::Year { .. }
            | JalaliDateError::Month { .. }
            | JalaliDateError::Day { .. } => {
                "check the date on the source document (Solar Hijri, not Gregorian)"
            }
            JalaliDateError::Gregorian { .. } => "check the Gregorian date",
            JalaliDateError::Clock => "set the system clock",
        }
    }
}

impl JalaliDate {
    /// Builds a date from its parts, if that day exists.
    pub fn new(year: u16, month: u8, day: u8) -> Result<Self, JalaliDateError> {
        if !(MIN_YEAR..=MAX_YEAR).contains(&year) {
            return Err(JalaliDateError::Year {
                year: i64::from(year),
            });
        }
        if !(1..=12).contains(&month) {
            return Err(JalaliDateError::Month { month });
        }
        let days = days_in_month(year, month);
        if day == 0 || day > days {
            return Err(JalaliDateError::Day {
                year,
                month,
                day,
                days,
                leap_note: match (month, is_leap_year(year)) {
                    (12, true) => " (it is a leap year)",
                    (12, false) => " (it is not a leap year)",
                    _ => "",
                },
            });
        }
        Ok(JalaliDate { year, month, day })
    }

    /// Parses `YYYY/MM/DD` (`-` also separates; month and day may have one digit; Persian and
    /// Arabic-Indic digits are accepted; surrounding white space is ignored).
    pub fn parse(text: &str) -> Result<Self, JalaliDateError> {
        let ascii = ascii_digits(text.trim());
        if ascii.is_empty() {
            return Err(JalaliDateError::Empty);
        }
        let format_error = || JalaliDateError::Format {
            text: text.trim().to_owned(),
        };
        let parts: Vec<&str> = ascii.split(['/', '-']).collect();
        let [y, m, d] = parts.as_slice() else {
            return Err(format_error());
        };
        let number = |s: &str, lens: std::ops::RangeInclusive<usize>| -> Option<u16> {
            if lens.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) {
                s.parse().ok()
            } else {
                None
            }
        };
        let year = number(y, 4..=4).ok_or_else(format_error)?;
        let month = number(m, 1..=2).ok_or_else(format_error)?;
        let day = number(d, 1..=2).ok_or_else(format_error)?;
        // month and day have at most two digits, so they fit in u8.
        Self::new(year, month as u8, day as u8)
    }

    /// Parses the on-card form: exactly eight ASCII digits `YYYYMMDD`.
    pub fn from_card_bytes(bytes: &[u8]) -> Result<Self, JalaliDateError> {
        if bytes.len() != 8 || !bytes.iter().all(u8::is_ascii_digit) {
            return Err(JalaliDateError::CardFormat {
                text: String::from_utf8_lossy(bytes).into_owned(),
            });
        }
        let n = |r: std::ops::Range<usize>| {
            bytes[r]
                .iter()
                .fold(0u16, |acc, b| acc * 10 + u16::from(b - b'0'))
        };
        Self::new(n(0..4), n(4..6) as u8, n(6..8) as u8)
    }

    /// The on-card form: eight ASCII digits `YYYYMMDD`.
    pub fn to_card_bytes(&self) -> [u8; 8] {
        let mut out = [0u8; 8];
        out.copy_from_slice(format!("{:04}{:02}{:02}", self.year, self.month, self.day).as_bytes());
        out
    }

    /// The same day in the proleptic Gregorian calendar: (year, month, day).
    pub fn to_gregorian(&self) -> (i32, u8, u8) {
        let iso = self.to_icu().to_calendar(Iso);
        (
            iso.year().extended_year(),
            iso.month().ordinal,
            iso.day_of_month().0,
        )
    }

    /// The Solar Hijri date of a Gregorian day.
    pub fn from_gregorian(year: i32, month: u8, day: u8) -> Result<Self, JalaliDateError> {
        let iso = Date::try_new_iso(year, month, day).map_err(|_| JalaliDateError::Gregorian {
            year,
            month,
            day,
        })?;
        Self::from_icu(&iso.to_calendar(Persian))
    }

    /// Today in Iran (UTC+03:30), from the system clock.
    pub fn today() -> Result<Self, JalaliDateError> {
        Self::from_system_time(SystemTime::now())
    }

    /// The day in Iran (UTC+03:30) at a given instant.
    pub fn from_system_time(time: SystemTime) -> Result<Self, JalaliDateError> {
        let seconds = match time.duration_since(UNIX_EPOCH) {
            Ok(after) => i64::try_from(after.as_secs()).map_err(|_| JalaliDateError::Clock)?,
            Err(before) => {
                -i64::try_from(before.duration().as_secs()).map_err(|_| JalaliDateError::Clock)?
            }
        };
        let days = seconds
            .checked_add(IRAN_OFFSET_SECONDS)
            .ok_or(JalaliDateError::Clock)?
            .div_euclid(86_400);
        // Keep far inside what icu accepts before asking it.
        if days.abs() > 1_000_000 {
            return Err(JalaliDateError::Clock);
        }
        let date = Date::from_rata_die(RataDie::new(UNIX_EPOCH_RATA_DIE + days), Persian);
        Self::from_icu(&date).map_err(|_| JalaliDateError::Clock)
    }

    fn from_icu(date: &Date<Persian>) -> Result<Self, JalaliDateError> {
        let year = date.year().extended_year();
        let year = u16::try_from(year)
            .ok()
            .filter(|y| (MIN_YEAR..=MAX_YEAR).contains(y))
            .ok_or(JalaliDateError::Year {
                year: i64::from(year),
            })?;
        Self::new(year, date.month().ordinal, date.day_of_month().0)
    }

    fn to_icu(self) -> Date<Persian> {
        // Every JalaliDate was checked against icu when it was made, so this cannot fail;
        // the fallback only avoids a panic path.
        Date::try_new_persian(i32::from(self.year), self.month, self.day)
            .unwrap_or_else(|_| Date::from_rata_die(RataDie::new(0), Persian))
    }

    pub fn year(&self) -> u16 {
        self.year
    }

    pub fn month(&self) -> u8 {
        self.month
    }

    pub fn day(&self) -> u8 {
        self.day
    }

    /// The month's name in Latin letters: Farvardin … Esfand.
    pub fn month_name(&self) -> &'static str {
        MONTH_NAMES[usize::from(self.month) - 1]
    }

    /// `YYYY/MM/DD (YYYY-MM-DD)`: the date with its Gregorian equivalent beside it.
    pub fn with_gregorian(&self) -> String {
        let (y, m, d) = self.to_gregorian();
        format!("{self} ({y:04}-{m:02}-{d:02})")
    }

    /// Number of days from `self` to `other` (negative when `other` is earlier).
    pub fn days_until(&self, other: &JalaliDate) -> i64 {
        other.to_icu().to_rata_die().to_i64_date() - self.to_icu().to_rata_die().to_i64_date()
    }
}

/// Whether a Solar Hijri year has 366 days (Esfand has 30 days).
pub fn is_leap_year(year: u16) -> bool {
    days_in_month(year, 12) == 30
}

/// Days in a month of a Solar Hijri year: 31 for months 1–6, 30 for 7–11, 29 or 30 for 12.
/// Returns 0 for a month outside 1–12.
pub fn days_in_month(year: u16, month: u8) -> u8 {
    Date::try_new_persian(i32::from(year), month, 1)
        .map(|d| d.days_in_month())
        .unwrap_or(0)
}

impl fmt::Display for JalaliDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}/{:02}/{:02}", self.year, self.month, self.day)
    }
}

validated_string!(JalaliDate, JalaliDateError);

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::time::Duration;

    fn d(text: &str) -> JalaliDate {
        JalaliDate::parse(text).unwrap()
    }

    #[test]
    fn leap_years_follow_the_calendar() {
        assert!(JalaliDate::parse("1403/12/30").is_ok());
        assert_eq!(
            JalaliDate::parse("1404/12/30").unwrap_err().to_string(),
            "1404/12/30 does not exist: Esfand 1404 has 29 days (it is not a leap year)"
        );
        assert_eq!(
            JalaliDate::parse("1403/12/31").unwrap_err().to_string(),
            "1403/12/31 does not exist: Esfand 1403 has 30 days (it is a leap year)"
        );
        for (year, leap) in [
            (1399, true),
            (1400, false),
            (1403, true),
            (1404, false),
            (1407, false),
            (1408, true),
        ] {
            assert_eq!(is_leap_year(year), leap, "{year}");
        }
    }

    #[test]
    fn parse_table() {
        let ok = [
            ("1370/06/31", (1370, 6, 31)),
            ("1370/6/31", (1370, 6, 31)),
            ("1370-06-31", (1370, 6, 31)),
            ("۱۳۷۰/۰۶/۳۱", (1370, 6, 31)),
            ("  1403/01/01 ", (1403, 1, 1)),
            ("1200/01/01", (1200, 1, 1)),
            ("1599/11/30", (1599, 11, 30)),
        ];
        for (text, (y, m, dd)) in ok {
            let date = d(text);
            assert_eq!(
                (date.year(), date.month(), date.day()),
                (y, m, dd),
                "{text}"
            );
        }
        let errors = [
            ("", "is empty"),
            ("1370/06", "is \"1370/06\", not a date written YYYY/MM/DD"),
            ("70/06/31", "is \"70/06/31\", not a date written YYYY/MM/DD"),
            (
                "1370/006/01",
                "is \"1370/006/01\", not a date written YYYY/MM/DD",
            ),
            (
                "1370/+6/01",
                "is \"1370/+6/01\", not a date written YYYY/MM/DD",
            ),
            (
                "1370.06.31",
                "is \"1370.06.31\", not a date written YYYY/MM/DD",
            ),
            (
                "1370/06/31/1",
                "is \"1370/06/31/1\", not a date written YYYY/MM/DD",
            ),
            ("1199/12/29", "year 1199 is outside 1200–1599"),
            ("1600/01/01", "year 1600 is outside 1200–1599"),
            (
                "2024/01/01",
                "year 2024 is outside 1200–1599; it looks like a Gregorian year",
            ),
            (
                "1370/13/01",
                "month 13 does not exist; the months are 1 to 12",
            ),
            (
                "1370/00/01",
                "month 0 does not exist; the months are 1 to 12",
            ),
            (
                "1370/07/31",
                "1370/07/31 does not exist: Mehr 1370 has 30 days",
            ),
            (
                "1370/01/00",
                "1370/01/00 does not exist: Farvardin 1370 has 31 days",
            ),
            (
                "1370/01/32",
                "1370/01/32 does not exist: Farvardin 1370 has 31 days",
            ),
        ];
        for (text, message) in errors {
            assert_eq!(
                JalaliDate::parse(text).unwrap_err().to_string(),
                message,
                "{text:?}"
            );
        }
    }

    #[test]
    fn gregorian_known_days() {
        // Nowruz 1404 was 2025-03-21; 1403/12/30 the day before.
        let cases = [
            ("1404/01/01", (2025, 3, 21)),
            ("1403/12/30", (2025, 3, 20)),
            ("1403/01/01", (2024, 3, 20)),
            ("1357/11/22", (1979, 2, 11)),
            ("1348/10/11", (1970, 1, 1)),
        ];
        for (text, greg) in cases {
            assert_eq!(d(text).to_gregorian(), greg, "{text}");
            assert_eq!(
                JalaliDate::from_gregorian(greg.0, greg.1, greg.2).unwrap(),
                d(text)
            );
        }
        assert_eq!(d("1403/12/30").with_gregorian(), "1403/12/30 (2025-03-20)");
        assert_eq!(
            JalaliDate::from_gregorian(2025, 2, 29)
                .unwrap_err()
                .to_string(),
            "2025-02-29 is not a Gregorian date"
        );
        assert_eq!(
            JalaliDate::from_gregorian(1700, 1, 1)
                .unwrap_err()
                .to_string(),
            "year 1078 is outside 1200–1599"
        );
    }

    /// applets-spec §5.9: year Y has a 30 Esfand when (25·Y + 11) mod 33 < 8, except that
    /// 1502 does not and 1503 does (in 1200–1599; what `icu_calendar` computes, the
    /// astronomical calendar at 52.5° E).
    #[test]
    fn leap_years_follow_the_spec_rule() {
        for y in MIN_YEAR..=MAX_YEAR {
            let leap = match y {
                1502 => false,
                1503 => true,
                _ => (25 * i64::from(y) + 11).rem_euclid(33) < 8,
            };
            assert_eq!(JalaliDate::new(y, 12, 30).is_ok(), leap, "{y}");
        }
        for (date, exists) in [
            ("1403/12/30", true),
            ("1404/12/30", false),
            ("1399/12/30", true),
            ("1400/12/30", false),
            ("1408/12/30", true),
            ("1502/12/30", false),
            ("1503/12/30", true),
        ] {
            assert_eq!(JalaliDate::parse(date).is_ok(), exists, "{date}");
        }
    }

    #[test]
    fn ordering_is_chronological() {
        let mut dates = [
            d("1403/12/30"),
            d("1370/06/31"),
            d("1404/01/01"),
            d("1370/07/01"),
        ];
        dates.sort();
        let shown: Vec<String> = dates.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            ["1370/06/31", "1370/07/01", "1403/12/30", "1404/01/01"]
        );
        assert!(d("1403/12/30") < d("1404/01/01"));
        assert_eq!(d("1403/12/30").days_until(&d("1404/01/01")), 1);
        assert_eq!(d("1404/01/01").days_until(&d("1403/01/01")), -366);
    }

    #[test]
    fn card_form() {
        let date = d("1403/12/30");
        assert_eq!(&date.to_card_bytes(), b"14031230");
        assert_eq!(JalaliDate::from_card_bytes(b"14031230").unwrap(), date);
        for bad in [&b"1403123"[..], b"1403/12/3", b"14041230", b"1403123a", b""] {
            assert!(JalaliDate::from_card_bytes(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            JalaliDate::from_card_bytes(b"1403/12/")
                .unwrap_err()
                .to_string(),
            "is \"1403/12/\", not a date written as eight digits YYYYMMDD"
        );
    }

    #[test]
    fn today_uses_iran_time() {
        // 2025-03-20T20:29:59Z is 23:59:59 in Tehran, still 1403/12/30;
        // one second later it is Nowruz 1404.
        let before = UNIX_EPOCH + Duration::from_secs(1_742_502_599);
        let after = before + Duration::from_secs(1);
        assert_eq!(
            JalaliDate::from_system_time(before).unwrap(),
            d("1403/12/30")
        );
        assert_eq!(
            JalaliDate::from_system_time(after).unwrap(),
            d("1404/01/01")
        );
        let epoch_minus = UNIX_EPOCH - Duration::from_secs(86_400);
        assert_eq!(
            JalaliDate::from_system_time(epoch_minus).unwrap(),
            d("1348/10/10")
        );
        assert!(JalaliDate::today().unwrap() > d("1404/01/01"));
    }

    #[test]
    fn month_names() {
        assert_eq!(d("1403/01/01").month_name(), "Farvardin");
        assert_eq!(d("1403/12/01").month_name(), "Esfand");
    }

    #[test]
    fn serde_round_trip() {
        let date = d("1403/12/30");
        let json = serde_json::to_string(&date).unwrap();
        assert_eq!(json, "\"1403/12/30\"");
        assert_eq!(serde_json::from_str::<JalaliDate>(&json).unwrap(), date);
        assert!(serde_json::from_str::<JalaliDate>("\"1404/12/30\"").is_err());
    }

    #[test]
    fn every_error_has_a_hint() {
        for e in [
            JalaliDateError::Empty,
            JalaliDateError::Clock,
            JalaliDateError::Month { month: 0 },
            JalaliDateError::Gregorian {
                year: 0,
                month: 0,
                day: 0,
            },
            JalaliDateError::CardFormat {
                text: String::new(),
            },
        ] {
            assert!(!e.hint().is_empty());
        }
    }

    proptest! {
        #[test]
        fn gregorian_round_trip(year in MIN_YEAR..=MAX_YEAR, month in 1u8..=12, day in 1u8..=31) {
            if let Ok(date) = JalaliDate::new(year, month, day) {
                let (gy, gm, gd) = date.to_gregorian();
                prop_assert_eq!(JalaliDate::from_gregorian(gy, gm, gd).unwrap(), date);
                prop_assert_eq!(JalaliDate::from_card_bytes(&date.to_card_bytes()).unwrap(), date);
                prop_assert_eq!(JalaliDate::parse(&date.to_string()).unwrap(), date);
            } else {
                prop_assert!(day > days_in_month(year, month));
            }
        }

        #[test]
        fn order_matches_gregorian_order(
            a in (MIN_YEAR..=MAX_YEAR, 1u8..=12, 1u8..=29),
            b in (MIN_YEAR..=MAX_YEAR, 1u8..=12, 1u8..=29),
        ) {
            let a = JalaliDate::new(a.0, a.1, a.2).unwrap();
            let b = JalaliDate::new(b.0, b.1, b.2).unwrap();
            prop_assert_eq!(a.cmp(&b), a.to_gregorian().cmp(&b.to_gregorian()));
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,16}") {
            let _ = JalaliDate::parse(&s);
        }
    }
}
