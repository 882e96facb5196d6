//! Every station's progress, read from the shared journal: what `melli batch watch` shows.

use std::time::Duration;

use super::PgJournal;
use crate::journal::{Counts, JournalError};

/// One station, as the journal knows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StationProgress {
    pub station: String,
    /// Seconds since the station last claimed a record or registered.
    pub seen_seconds_ago: f64,
    /// Cards it finished in the whole journal.
    pub made: u64,
    /// Cards it finished within the window.
    pub made_in_window: u64,
    /// `made_in_window` per minute of the window.
    pub cards_per_minute: f64,
    /// Records it holds a live lease on now.
    pub working: u64,
}

/// A record that failed, and why.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Failure {
    pub tracking_code: String,
    pub reason: Option<String>,
}

/// The queue and its stations.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Progress {
    pub counts: Counts,
    /// Records bound to a card whose station's lease has run out (a station that died), or
    /// held for a card that may be locked.
    pub waiting_for_cards: u64,
    pub window_seconds: f64,
    pub stations: Vec<StationProgress>,
    /// The latest failures first, at most `max_failures`.
    pub failures: Vec<Failure>,
}

impl PgJournal {
    /// The queue's counts, each station's cards per minute over the last `window`, and the
    /// latest failures.
    pub fn progress(
        &mut self,
        window: Duration,
        max_failures: i64,
    ) -> Result<Progress, JournalError> {
        let target = self.target.clone();
        let sql = |e: ::postgres::Error| JournalError::from(super::sql_error(&target, &e));
        let seconds = window.as_secs_f64().max(1.0);
        let mut counts = Counts::default();
        for r in self
            .client
            .query("SELECT state, count(*) FROM records GROUP BY state", &[])
            .map_err(sql)?
        {
            counts.add(r.get(0), u64::try_from(r.get::<_, i64>(1)).unwrap_or(0));
        }
        let waiting: i64 = self
            .client
            .query_one(
                "SELECT count(*) FROM records WHERE state = 'personalizing'
                   AND (lease_expires_at IS NULL OR lease_expires_at < now())",
                &[],
            )
            .map_err(sql)?
            .get(0);
        let stations = self
            .client
            .query(
                "SELECT s.name,
                        extract(epoch FROM now() - s.last_seen)::float8,
                        (SELECT count(*) FROM records r WHERE r.made_by = s.name),
                        (SELECT count(*) FROM records r WHERE r.made_by = s.name
                           AND r.finished_at > now() - $1 * interval '1 second'),
                        (SELECT count(*) FROM records r WHERE r.lease_station = s.name
                           AND r.lease_expires_at > now())
                 FROM stations s ORDER BY s.name",
                &[&seconds],
            )
            .map_err(sql)?
            .iter()
            .map(|r| {
                let made_in_window = u64::try_from(r.get::<_, i64>(3)).unwrap_or(0);
                StationProgress {
                    station: r.get(0),
                    seen_seconds_ago: r.get::<_, Option<f64>>(1).unwrap_or(0.0),
                    made: u64::try_from(r.get::<_, i64>(2)).unwrap_or(0),
                    made_in_window,
                    cards_per_minute: crate::ops::batch::per_minute(made_in_window, seconds),
                    working: u64::try_from(r.get::<_, i64>(4)).unwrap_or(0),
                }
            })
            .collect();
        let failures = self
            .client
            .query(
                "SELECT tracking_code, reason FROM records WHERE state = 'failed'
                 ORDER BY updated_at DESC LIMIT $1",
                &[&max_failures],
            )
            .map_err(sql)?
            .iter()
            .map(|r| Failure {
                tracking_code: r.get(0),
                reason: r.get(1),
            })
            .collect();
        Ok(Progress {
            counts,
            waiting_for_cards: u64::try_from(waiting).unwrap_or(0),
            window_seconds: seconds,
            stations,
            failures,
        })
    }
}
