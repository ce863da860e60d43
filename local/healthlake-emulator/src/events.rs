//! HealthLake's EventBridge events: one per job state change, with seeded
//! delivery faults (drop, delay, duplicate, reorder) and virtual-time delivery.
//!
//! An event is produced when its transition is applied (its `time` is the
//! transition's time, whenever that is processed) and is due at that time
//! plus any injected delay. [`crate::Emulator::take_due_events`] hands out
//! what is due, each delivery once, in delivery order.

use std::collections::{BTreeMap, HashMap};
use std::ops::{Bound, Range};
use std::time::Duration;

use hlx_core::JobStatus;
use jiff::Timestamp;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::seed::{derive_seed, uuid};
use crate::{JobKind, Transition};

/// The `source` of every HealthLake event.
pub const EVENT_SOURCE: &str = "aws.healthlake";

/// Every detail-type the emulator can emit: exports, then imports, in lifecycle order.
pub const DETAIL_TYPES: [&str; 12] = [
    "Export Job Submitted",
    "Export Job Queued",
    "Export Job In Progress",
    "Export Job Completed",
    "Export Job Completed With Errors",
    "Export Job Failed",
    "Import Job Submitted",
    "Import Job Queued",
    "Import Job In Progress",
    "Import Job Completed",
    "Import Job Completed With Errors",
    "Import Job Failed",
];

/// The detail-type HealthLake publishes when a job of `kind` enters `status`;
/// `None` for the statuses that have no event (`CANCEL_*`, unknown ones).
pub fn detail_type(kind: JobKind, status: &JobStatus) -> Option<&'static str> {
    let offset = match kind {
        JobKind::Export => 0,
        JobKind::Import => 6,
    };
    let index = match status {
        JobStatus::Submitted => 0,
        JobStatus::Queued => 1,
        JobStatus::InProgress => 2,
        JobStatus::Completed => 3,
        JobStatus::CompletedWithErrors => 4,
        JobStatus::Failed => 5,
        JobStatus::CancelSubmitted
        | JobStatus::CancelInProgress
        | JobStatus::CancelCompleted
        | JobStatus::CancelFailed
        | JobStatus::Unknown(_) => return None,
    };
    Some(DETAIL_TYPES[offset + index])
}

/// A HealthLake event as EventBridge delivers it to a rule's target.
///
/// Serializes to the documented envelope: `version`, `id`, `detail-type`,
/// `source`, `account`, `time`, `region`, `resources`, `detail`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthLakeEvent {
    /// Always `"0"`.
    pub version: String,
    /// A UUID, derived from the seed: the same run gives the same ids.
    pub id: String,
    /// The status, e.g. `Export Job Completed` (the detail has none).
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    /// Always `aws.healthlake`.
    pub source: String,
    pub account: String,
    /// The transition's time, ISO-8601 UTC to the second (`2026-01-01T00:00:05Z`).
    pub time: String,
    pub region: String,
    /// The data store's ARN, alone.
    pub resources: Vec<String>,
    pub detail: EventDetail,
}

/// An event's `detail`: four camelCase fields, no status, end time or message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventDetail {
    pub job_id: String,
    /// The job's submit time, ISO-8601 UTC with milliseconds
    /// (`2026-01-01T00:00:00.000Z`), the same in every event of the job.
    pub submit_time: String,
    pub datastore_id: String,
    /// Exports: the output location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_data_config: Option<S3Location>,
    /// Imports: the input location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_data_config: Option<S3Location>,
}

/// `{"s3Uri": ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct S3Location {
    pub s3_uri: String,
}

impl HealthLakeEvent {
    /// The event as JSON, as a target receives it.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("an event always serializes")
    }
}

/// `time`: ISO-8601 UTC to the second.
pub(crate) fn format_time(at: Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// `submitTime`: ISO-8601 UTC with milliseconds.
pub(crate) fn format_submit_time(at: Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Injected event delivery faults. Each is a share of events (0.0–1.0) drawn
/// from its own seeded stream: one draw per event and fault, whatever the
/// other draws say, so changing one rate never moves another fault, and no
/// event fault moves a wire fault.
#[derive(Debug, Clone, PartialEq)]
pub struct EventFaults {
    /// Share of events never delivered. A dropped event has no other fault.
    pub drop_rate: f64,
    /// Share of events delivered late, by a time drawn uniformly from `delay`
    /// (in whole milliseconds).
    pub delay_rate: f64,
    /// The range delays are drawn from (`start..end`; an empty range means `start`).
    pub delay: Range<Duration>,
    /// Share of events delivered twice: the same event, same `id`, one right after the other.
    pub duplicate_rate: f64,
    /// Share of events held back and delivered right after the next event of
    /// the same job. The last event of a job, and an event that releases a
    /// held one, are never held.
    pub reorder_rate: f64,
}

impl Default for EventFaults {
    /// No faults; delays, when asked for, of 5 to 60 s.
    fn default() -> Self {
        Self {
            drop_rate: 0.0,
            delay_rate: 0.0,
            delay: Duration::from_secs(5)..Duration::from_secs(60),
            duplicate_rate: 0.0,
            reorder_rate: 0.0,
        }
    }
}

impl EventFaults {
    /// No faults.
    pub fn none() -> Self {
        Self::default()
    }
}

/// One event the emulator produced, and what became of it.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    pub event: HealthLakeEvent,
    /// The state change it reports (its `at` is the event's exact time).
    pub transition: Transition,
    /// When it is (or was) due. `None` when dropped, or while it is held back
    /// for reordering (it is due once the job's next event is produced).
    pub deliver_at: Option<Timestamp>,
    pub dropped: bool,
    /// The injected delay, if any.
    pub delay: Option<Duration>,
    /// Delivered twice.
    pub duplicated: bool,
    /// Held back and delivered after the job's next event.
    pub reordered: bool,
    /// Copies handed out by [`crate::Emulator::take_due_events`] so far.
    pub delivered: u8,
}

/// One delivery of an event.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveredEvent {
    /// When it was due.
    pub deliver_at: Timestamp,
    pub event: HealthLakeEvent,
    /// The second copy of a duplicated event.
    pub duplicate: bool,
}

/// The fault streams, one per draw.
const STREAMS: [&str; 5] = ["drop", "delay", "delay-amount", "duplicate", "reorder"];

/// One delivery waiting to be taken: the record and whether it is the second copy.
#[derive(Debug, Clone, Copy)]
struct Pending {
    record: usize,
    duplicate: bool,
}

/// What the emulator needs to build an event beyond the transition.
pub(crate) struct EventContext<'a> {
    pub region: &'a str,
    pub account: &'a str,
    pub submit_time: Timestamp,
    pub s3_uri: &'a str,
}

pub(crate) struct EventBus {
    pub faults: EventFaults,
    pub queued: bool,
    seed: u64,
    streams: Vec<ChaCha8Rng>,
    pub records: Vec<EventRecord>,
    /// Deliveries by (due time, sequence): iteration order is delivery order.
    pending: BTreeMap<(Timestamp, u64), Pending>,
    /// Per job, the record held back for reordering.
    held: HashMap<String, usize>,
    sequence: u64,
}

impl EventBus {
    pub fn new(seed: u64, faults: EventFaults, queued: bool) -> Self {
        Self {
            faults,
            queued,
            seed,
            streams: STREAMS
                .iter()
                .map(|name| ChaCha8Rng::from_seed(derive_seed(seed, &["events", name])))
                .collect(),
            records: Vec::new(),
            pending: BTreeMap::new(),
            held: HashMap::new(),
            sequence: 0,
        }
    }

    fn draws(&mut self) -> [f64; 5] {
        let mut draws = [0.0; 5];
        for (draw, stream) in draws.iter_mut().zip(&mut self.streams) {
            *draw = stream.random();
        }
        draws
    }

    fn schedule(&mut self, at: Timestamp, pending: Pending) {
        self.pending.insert((at, self.sequence), pending);
        self.sequence += 1;
    }

    /// Produces the event of `transition`, if it has one, and schedules its delivery.
    pub fn emit(&mut self, transition: &Transition, context: EventContext<'_>) {
        let Some(detail_type) = detail_type(transition.kind, &transition.status) else {
            return;
        };
        if transition.status == JobStatus::Queued && !self.queued {
            return;
        }
        let terminal = matches!(
            transition.status,
            JobStatus::Completed | JobStatus::CompletedWithErrors | JobStatus::Failed
        );
        let location = Some(S3Location {
            s3_uri: context.s3_uri.to_owned(),
        });
        let (output_data_config, input_data_config) = match transition.kind {
            JobKind::Export => (location, None),
            JobKind::Import => (None, location),
        };
        let event = HealthLakeEvent {
            version: "0".into(),
            id: uuid(self.seed, "event", self.records.len() as u64),
            detail_type: detail_type.into(),
            source: EVENT_SOURCE.into(),
            account: context.account.into(),
            time: format_time(transition.at),
            region: context.region.into(),
            resources: vec![format!(
                "arn:aws:healthlake:{}:{}:datastore/fhir/{}",
                context.region, context.account, transition.datastore_id
            )],
            detail: EventDetail {
                job_id: transition.job_id.clone(),
                submit_time: format_submit_time(context.submit_time),
                datastore_id: transition.datastore_id.clone(),
                output_data_config,
                input_data_config,
            },
        };

        let [drop, delay, amount, duplicate, reorder] = self.draws();
        let faults = &self.faults;
        let dropped = drop < faults.drop_rate;
        let delay = (!dropped && delay < faults.delay_rate).then(|| {
            let Range { start, end } = faults.delay;
            let delay = start + end.saturating_sub(start).mul_f64(amount);
            // Whole milliseconds: a clock that counts microseconds can land on it.
            Duration::from_millis(u64::try_from(delay.as_millis()).unwrap_or(u64::MAX))
        });
        let duplicated = !dropped && duplicate < faults.duplicate_rate;
        let releases = self.held.remove(&transition.job_id);
        let reordered = !dropped && !terminal && releases.is_none() && reorder < faults.reorder_rate;
        let due = transition
            .at
            .checked_add(delay.unwrap_or_default())
            .unwrap_or(Timestamp::MAX);

        let index = self.records.len();
        tracing::debug!(
            id = %event.id, detail_type, job_id = %transition.job_id, dropped, ?delay, duplicated, reordered,
            "event"
        );
        self.records.push(EventRecord {
            event,
            transition: transition.clone(),
            deliver_at: (!dropped && !reordered).then_some(due),
            dropped,
            delay,
            duplicated,
            reordered,
            delivered: 0,
        });
        if !dropped && !reordered {
            self.schedule(
                due,
                Pending {
                    record: index,
                    duplicate: false,
                },
            );
            if duplicated {
                self.schedule(
                    due,
                    Pending {
                        record: index,
                        duplicate: true,
                    },
                );
            }
        }
        // A held event goes right after this one (after its natural time too).
        if let Some(held) = releases {
            let own = self.records[held].transition.at;
            let own = own
                .checked_add(self.records[held].delay.unwrap_or_default())
                .unwrap_or(Timestamp::MAX);
            let after = if dropped { transition.at } else { due };
            let at = own.max(after);
            self.records[held].deliver_at = Some(at);
            self.schedule(
                at,
                Pending {
                    record: held,
                    duplicate: false,
                },
            );
            if self.records[held].duplicated {
                self.schedule(
                    at,
                    Pending {
                        record: held,
                        duplicate: true,
                    },
                );
            }
        }
        if reordered {
            self.held.insert(transition.job_id.clone(), index);
        }
    }

    /// The deliveries due at or before `now`, in delivery order, each once.
    pub fn take_due(&mut self, now: Timestamp) -> Vec<DeliveredEvent> {
        let mut delivered = Vec::new();
        while let Some(entry) = self.pending.first_entry() {
            let (at, _) = *entry.key();
            if at > now {
                break;
            }
            let pending = entry.remove();
            let record = &mut self.records[pending.record];
            record.delivered += 1;
            delivered.push(DeliveredEvent {
                deliver_at: at,
                event: record.event.clone(),
                duplicate: pending.duplicate,
            });
        }
        delivered
    }

    /// The earliest delivery not yet taken, due or not.
    pub fn next_delivery_at(&self) -> Option<Timestamp> {
        self.pending.keys().next().map(|(at, _)| *at)
    }

    /// The earliest delivery due strictly after `now`.
    pub fn next_delivery_after(&self, now: Timestamp) -> Option<Timestamp> {
        self.pending
            .range((Bound::Excluded((now, u64::MAX)), Bound::Unbounded))
            .next()
            .map(|((at, _), _)| *at)
    }
}
