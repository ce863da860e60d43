//! Admission control: how many hlx jobs may be in flight for one data store.
//!
//! HealthLake runs one export at a time and queues the rest (at most 25 per
//! data store); imports queue the same way. hlx keeps its own jobs well below
//! that: a job takes a slot of its data store before it starts and gives it
//! back when its record is terminal. A request that finds no free slot is
//! refused before anything starts: 429 from the API, exit 3 from the CLI, a
//! `REJECTED` record (`hlx.TooManyJobs`) for an execution started by hand.
//! The nightly schedule's own export is never crowded out by ad-hoc ones:
//! [`SCHEDULE_RESERVE`] slots are kept for it.
//!
//! The slots are one item per data store, changed with optimistic
//! concurrency (its `version`), so concurrent starts cannot take more slots
//! than there are. A slot whose job never gave it back (an execution stopped
//! by hand ends without a record) expires after [`SLOT_HOLD`], longer than
//! any job hlx lets wait and run.

use std::collections::BTreeMap;
use std::future::Future;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::error::HlxError;
use crate::fields::Trigger;
use crate::request::JobRequest;
use crate::time;

/// The default limit of jobs in flight per data store (HealthLake queues 25).
pub const DEFAULT_MAX_JOBS_IN_FLIGHT: u32 = 8;
/// Slots only the schedule's jobs may take.
pub const SCHEDULE_RESERVE: u32 = 1;
/// How long a slot is held at most (the state machine times a job out long before).
pub const SLOT_HOLD: SignedDuration = SignedDuration::from_hours(80);
/// Optimistic writes tried before the store's contention is an error.
const ATTEMPTS: u32 = 8;

/// The slots item of a data store.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Slots {
    pub datastore_id: String,
    /// Holder (execution name) → when its slot expires.
    #[serde(default)]
    pub holders: BTreeMap<String, String>,
    /// Bumped by every write; a write expects the version it read.
    #[serde(default)]
    pub version: u64,
}

/// What asking for a slot got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlotAnswer {
    /// The holder has a slot; `newly` when this call took it.
    Taken { newly: bool },
    /// No slot is free for this trigger.
    Full { in_flight: u32, limit: u32 },
}

/// The key of a data store's slots item.
pub fn slots_key(datastore_id: &str) -> String {
    format!("SLOTS#{datastore_id}")
}

/// How many jobs may be in flight when a job of `trigger` asks: all of
/// `max` for the schedule, the rest keep [`SCHEDULE_RESERVE`] free.
pub fn limit_for(max: u32, trigger: Trigger) -> u32 {
    match trigger {
        Trigger::Schedule => max,
        _ => max.saturating_sub(SCHEDULE_RESERVE).max(1),
    }
}

impl Slots {
    fn live(&self, now: Timestamp) -> impl Iterator<Item = (&String, &String)> {
        self.holders
            .iter()
            .filter(move |(_, expires)| time::parse(expires).is_ok_and(|at| at > now))
    }

    /// Takes a slot for `holder` if one is free under `limit`; drops expired ones.
    pub fn take(&mut self, holder: &str, limit: u32, now: Timestamp) -> SlotAnswer {
        let live: BTreeMap<String, String> = self.live(now).map(|(h, e)| (h.clone(), e.clone())).collect();
        self.holders = live;
        if self.holders.contains_key(holder) {
            return SlotAnswer::Taken { newly: false };
        }
        let in_flight = u32::try_from(self.holders.len()).unwrap_or(u32::MAX);
        if in_flight >= limit {
            return SlotAnswer::Full { in_flight, limit };
        }
        self.holders
            .insert(holder.to_owned(), time::format(now + SLOT_HOLD));
        SlotAnswer::Taken { newly: true }
    }
}

/// Where slots items live; `put_slots` writes only over the version it read.
pub trait SlotStore: Send + Sync {
    fn get_slots(&self, datastore_id: &str) -> impl Future<Output = Result<Option<Slots>, HlxError>> + Send;

    /// Writes `slots` (with `version` + 1) if the stored item is still at
    /// `slots.version` (or absent when it is 0); false when it moved on.
    fn put_slots(&self, slots: &Slots) -> impl Future<Output = Result<bool, HlxError>> + Send;
}

/// Takes a slot of `datastore_id` for `holder` (an execution name).
pub async fn take_slot(
    store: &impl SlotStore,
    datastore_id: &str,
    holder: &str,
    limit: u32,
    now: Timestamp,
) -> Result<SlotAnswer, HlxError> {
    for _ in 0..ATTEMPTS {
        let mut slots = store.get_slots(datastore_id).await?.unwrap_or_else(|| Slots {
            datastore_id: datastore_id.to_owned(),
            ..Slots::default()
        });
        let answer = slots.take(holder, limit, now);
        if !matches!(answer, SlotAnswer::Taken { newly: true }) {
            return Ok(answer);
        }
        if store.put_slots(&slots).await? {
            return Ok(answer);
        }
    }
    Err(contended(datastore_id))
}

/// Admits `request`'s job (its execution name is `holder`) under a limit of
/// `max` jobs in flight per data store (0: no limit): `Some(newly)` when it
/// holds a slot (`newly`: this call took it), `None` without a limit; no
/// free slot is `hlx.TooManyJobs` naming the limit. Every front end admits
/// a job through this one rule.
pub async fn admit(
    store: &impl SlotStore,
    request: &JobRequest,
    holder: &str,
    max: u32,
    now: Timestamp,
) -> Result<Option<bool>, HlxError> {
    if max == 0 {
        return Ok(None);
    }
    let datastore_id = request.datastore_id();
    match take_slot(
        store,
        datastore_id,
        holder,
        limit_for(max, request.trigger()),
        now,
    )
    .await?
    {
        SlotAnswer::Taken { newly } => Ok(Some(newly)),
        SlotAnswer::Full { in_flight, limit } => Err(too_many_jobs(datastore_id, in_flight, limit)),
    }
}

/// `HLX_MAX_JOBS_IN_FLIGHT`'s value: a whole number, 0 for no limit.
pub fn parse_max_jobs_in_flight(text: &str) -> Result<u32, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("must be a whole number (0: no limit), got {text:?}"))
}

/// Gives `holder`'s slot back, if it has one.
pub async fn release_slot(
    store: &impl SlotStore,
    datastore_id: &str,
    holder: &str,
) -> Result<bool, HlxError> {
    for _ in 0..ATTEMPTS {
        let Some(mut slots) = store.get_slots(datastore_id).await? else {
            return Ok(false);
        };
        if slots.holders.remove(holder).is_none() {
            return Ok(false);
        }
        if store.put_slots(&slots).await? {
            return Ok(true);
        }
    }
    Err(contended(datastore_id))
}

fn contended(datastore_id: &str) -> HlxError {
    HlxError::DynamoDb {
        code: "ConditionalCheckFailedException".into(),
        message: format!("the slots of {datastore_id} changed {ATTEMPTS} times during one take; retry"),
    }
}

/// The refusal of a job that found no free slot.
pub fn too_many_jobs(datastore_id: &str, in_flight: u32, limit: u32) -> HlxError {
    HlxError::TooManyJobs(format!(
        "data store {datastore_id} has {in_flight} hlx jobs in flight, the limit for this request \
         (HLX_MAX_JOBS_IN_FLIGHT, less {SCHEDULE_RESERVE} kept for the schedule unless it is the \
         schedule's) is {limit}; try again when one has ended"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn the_schedule_keeps_its_reserve() {
        assert_eq!(limit_for(10, Trigger::Schedule), 10);
        assert_eq!(limit_for(10, Trigger::Api), 9);
        assert_eq!(limit_for(10, Trigger::Manual), 9);
        assert_eq!(
            limit_for(1, Trigger::Api),
            1,
            "a limit of 1 still lets one job run"
        );
    }

    #[test]
    fn slots_fill_up_hold_per_holder_and_expire() {
        let now = at("2026-01-01T00:00:00Z");
        let mut slots = Slots::default();
        assert_eq!(slots.take("a", 2, now), SlotAnswer::Taken { newly: true });
        assert_eq!(slots.take("a", 2, now), SlotAnswer::Taken { newly: false });
        assert_eq!(slots.take("b", 2, now), SlotAnswer::Taken { newly: true });
        assert_eq!(
            slots.take("c", 2, now),
            SlotAnswer::Full {
                in_flight: 2,
                limit: 2
            }
        );
        // After SLOT_HOLD, a holder that never gave its slot back has lost it.
        let later = now + SLOT_HOLD + SignedDuration::from_secs(1);
        assert_eq!(slots.take("c", 2, later), SlotAnswer::Taken { newly: true });
        assert_eq!(slots.holders.len(), 1);
    }
}
