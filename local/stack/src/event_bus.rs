//! The local EventBridge bus: HealthLake's job state-change events, which
//! the emulator emits, routed by the deployed event pattern
//! (`statemachine/healthlake-events.pattern.json`) to `job-events` at their
//! virtual time, with Lambda's retries of an asynchronous invocation; every
//! delivery is logged as a [`BusDelivery`] and told to listeners.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hlx_asl_runner::{ActorHandle, Runner, TaskError, WakeSource};
use hlx_healthlake_emulator::{Emulator, pattern_matches};
use jiff::Timestamp;
use serde_json::Value;

use crate::functions::Functions;
use crate::names::EVENTS_FUNCTION;

/// The deployed event pattern, as the repository has it.
pub const EVENT_PATTERN_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../statemachine/healthlake-events.pattern.json"
);
const EVENT_PATTERN: &str = include_str!("../../../statemachine/healthlake-events.pattern.json");

/// The event pattern for one data store, as the infrastructure deploys it.
pub fn event_pattern(datastore_id: &str) -> Result<Value, String> {
    let text = std::fs::read_to_string(EVENT_PATTERN_PATH).unwrap_or_else(|_| EVENT_PATTERN.to_owned());
    let text = text.replace("${DatastoreId}", datastore_id);
    serde_json::from_str(&text).map_err(|e| format!("the event pattern is not JSON: {e}"))
}

/// One event the local bus handed out, and what came of it.
#[derive(Debug, Clone, PartialEq)]
pub struct BusDelivery {
    /// When it arrived (virtual time in virtual mode).
    pub at: Timestamp,
    pub event_id: String,
    pub detail_type: String,
    pub job_id: String,
    pub datastore_id: String,
    /// The second copy of a duplicated event.
    pub duplicate: bool,
    /// Whether the deployed pattern routed it to `job-events`.
    pub routed: bool,
    /// `job-events`' answer (`{"outcome": "WOKEN", ...}`) or its error;
    /// `None` while it is being delivered, or when it was not routed.
    pub result: Option<Result<Value, TaskError>>,
    /// Listeners hear of an event twice: as it arrives (false), and once
    /// job-events has answered (true). The log keeps the second.
    pub handled: bool,
}

impl BusDelivery {
    /// `WOKEN`, `ALREADY_SEEN`, ... or the error's name.
    pub fn outcome(&self) -> String {
        match &self.result {
            None => "NOT_ROUTED".into(),
            Some(Ok(answer)) => answer["outcome"].as_str().unwrap_or("?").to_owned(),
            Some(Err(err)) => err.error.clone(),
        }
    }
}

pub(crate) type DeliveryListener = Arc<dyn Fn(&BusDelivery) + Send + Sync>;

/// The deliveries so far, and who is told of each.
#[derive(Default)]
struct BusLog {
    deliveries: Mutex<Vec<BusDelivery>>,
    listeners: Mutex<Vec<DeliveryListener>>,
}

impl BusLog {
    fn tell(&self, delivery: &BusDelivery) {
        let listeners = self.listeners.lock().expect("bus lock").clone();
        for listener in listeners {
            listener(delivery);
        }
    }

    fn push(&self, delivery: BusDelivery) {
        self.tell(&delivery);
        self.deliveries.lock().expect("bus lock").push(delivery);
    }
}

/// The emulator as a wake-up source: the clock stops at each of its job
/// transitions and event deliveries, and stays put while a delivery is due.
struct EmulatorClock(Emulator);

impl WakeSource for EmulatorClock {
    fn next_wake(&self, _now: Timestamp) -> Option<Timestamp> {
        self.0.next_change_at()
    }

    fn due(&self, now: Timestamp) -> bool {
        self.0.next_event_at().is_some_and(|at| at <= now)
    }
}

/// The local EventBridge bus: routes an event by the deployed patterns to
/// `job-events`. A failed delivery is retried twice, as Lambda retries an
/// asynchronous invocation; what still fails is kept in the log (the
/// deployed stack's dead-letter queue).
pub(crate) struct EventBus {
    /// One per data store the stack serves (the deployed rule's data store ids).
    patterns: Mutex<Vec<Value>>,
    functions: Functions,
    log: BusLog,
    sent: AtomicU64,
}

impl EventBus {
    /// A bus routing by `patterns` to the functions' `job-events`.
    pub(crate) fn new(patterns: Vec<Value>, functions: Functions) -> Self {
        Self {
            patterns: Mutex::new(patterns),
            functions,
            log: BusLog::default(),
            sent: Default::default(),
        }
    }

    /// Routes the events matching `pattern` too (a new data store's).
    pub(crate) fn add_pattern(&self, pattern: Value) {
        self.patterns.lock().expect("bus lock").push(pattern);
    }

    /// Every delivery so far, in order.
    pub(crate) fn deliveries(&self) -> Vec<BusDelivery> {
        self.log.deliveries.lock().expect("bus lock").clone()
    }

    /// Tells `listener` of each delivery from now on.
    pub(crate) fn add_listener(&self, listener: DeliveryListener) {
        self.log.listeners.lock().expect("bus lock").push(listener);
    }

    /// Delivers `event`, arrived at `at`: routes it, invokes `job-events`
    /// (retrying a failure twice) and logs what came of it.
    pub(crate) async fn deliver(&self, at: Timestamp, event: Value, duplicate: bool) -> BusDelivery {
        let routed = self
            .patterns
            .lock()
            .expect("bus lock")
            .iter()
            .any(|p| pattern_matches(p, &event));
        let text = |pointer: &str| {
            event
                .pointer(pointer)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let mut delivery = BusDelivery {
            at,
            event_id: text("/id"),
            detail_type: text("/detail-type"),
            job_id: text("/detail/jobId"),
            datastore_id: text("/detail/datastoreId"),
            duplicate,
            routed,
            result: None,
            handled: false,
        };
        self.log.tell(&delivery);
        let mut result = None;
        if routed {
            for _attempt in 0..3 {
                let n = self.sent.fetch_add(1, Ordering::SeqCst) + 1;
                let attempt = self
                    .functions
                    .call(EVENTS_FUNCTION, event.clone(), &format!("event-{n:08}"))
                    .await;
                let failed = attempt.is_err();
                result = Some(attempt);
                if !failed {
                    break;
                }
            }
        }
        delivery.result = result;
        delivery.handled = true;
        self.log.push(delivery.clone());
        delivery
    }
}

/// Runs the bus as an actor of the runner: it takes the emulator's events
/// as they fall due, at their virtual time, and delivers them.
pub(crate) fn spawn_event_bus(runner: &Runner, emulator: Emulator, bus: Arc<EventBus>) -> ActorHandle {
    runner.add_wake_source(EmulatorClock(emulator.clone()));
    runner.spawn_actor(move |ctx| async move {
        loop {
            for delivered in emulator.take_due_events(ctx.now()) {
                bus.deliver(ctx.now(), delivered.event.to_json(), delivered.duplicate)
                    .await;
            }
            ctx.next_turn(emulator.next_change_at(), Duration::from_millis(100))
                .await;
        }
    })
}
