//! The emulator handle: library API and the request pipeline.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use hlx_clock::SharedClock;
use jiff::Timestamp;
use serde_json::{Map, Value};

use crate::api;
use crate::error::{ApiError, EmulatorError, ErrorKind};
use crate::export::ExportTask;
use crate::s3::S3Store;
use crate::sigv4::{self, Received};
use crate::state::{State, check_profile};
use crate::{
    CallRecord, DatastoreInfo, DeliveredEvent, EmulatorConfig, EventFaults, EventRecord, Faults, JobInfo,
    JobKind, JobProfile, Operation, Transition,
};
use crate::{Churn, ResourceChange};

/// A HealthLake emulator. Cheap to clone: clones share one emulator.
///
/// Time comes from the injected clock only. Every scheduled job transition is
/// applied at its scheduled time, lazily: on every request, and whenever
/// [`Emulator::advance`] is called.
#[derive(Clone)]
pub struct Emulator {
    inner: Arc<Inner>,
}

struct Inner {
    clock: SharedClock,
    state: Mutex<State>,
    s3: Mutex<S3Store>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("clock", &self.inner.clock)
            .finish_non_exhaustive()
    }
}

/// A finished request: HTTP status, JSON body, request id.
pub(crate) struct Reply {
    pub status: u16,
    pub body: Value,
    pub error: Option<ErrorKind>,
    pub request_id: String,
}

impl Emulator {
    /// An emulator with no data stores, reading time from `clock`.
    pub fn new(config: EmulatorConfig, clock: SharedClock) -> Self {
        Self {
            inner: Arc::new(Inner {
                clock,
                state: Mutex::new(State::new(config)),
                s3: Mutex::new(S3Store::default()),
            }),
        }
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The state with every change due by `now` applied ([`State::process`]),
    /// and the transitions this made.
    ///
    /// An export that ends on the way is written with the lock released: a
    /// million-resource export takes seconds to write, and clients poll
    /// `DescribeFHIRExportJob` with a 10 s timeout per attempt. Its
    /// selection is made under the lock, as of its end; then the files are
    /// written without it while other callers see the job `IN_PROGRESS` (and
    /// nothing scheduled at or after its end happens: they find the state as
    /// it was just before); then the lock is taken again, the job ends at its
    /// scheduled time (its `EndTime`, transitions and events are those of a
    /// write that took no time) and processing goes on.
    ///
    /// Who writes: on a virtual clock, the caller that first processes past
    /// the export's end (normally a runner's [`Emulator::advance`] after it
    /// moved the clock; a request when the clock was moved without it), so
    /// that caller finds the job ended, as when writing took no time. On a
    /// wall clock a background thread, so that the request that happened to
    /// reach the export's end answers at once too.
    fn processed(&self, now: Timestamp) -> (MutexGuard<'_, State>, Vec<Transition>) {
        let mut state = self.state();
        let mut transitions = state.process(now);
        while let Some(task) = state.take_export_task() {
            if !self.inner.clock.is_virtual() {
                self.write_in_background(task);
                continue;
            }
            drop(state);
            let outcome = task.run();
            state = self.state();
            state.complete_export(outcome);
            transitions.extend(state.process(now));
        }
        (state, transitions)
    }

    /// Writes an ended export's files on a thread of its own, then ends the
    /// job and processes what is due by then.
    fn write_in_background(&self, task: ExportTask) {
        let emulator = self.clone();
        std::thread::spawn(move || {
            let outcome = task.run();
            let mut state = emulator.state();
            state.complete_export(outcome);
            drop(state);
            emulator.advance();
        });
    }

    /// [`Emulator::processed`] without the transitions.
    pub(crate) fn processed_state(&self, now: Timestamp) -> MutexGuard<'_, State> {
        self.processed(now).0
    }

    pub(crate) fn s3_store(&self) -> MutexGuard<'_, S3Store> {
        self.inner
            .s3
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Makes S3 answer `403 AccessDenied` to every GetObject, HeadObject
    /// and ListObjectsV2 under `s3_uri` (`s3://bucket/prefix`), as a bucket
    /// policy or a key policy that shuts a reader out would; jobs still write.
    pub fn deny_s3_reads(&self, s3_uri: &str) {
        let under = s3_uri.strip_prefix("s3://").unwrap_or(s3_uri).to_owned();
        self.s3_store().denied_reads.push(under);
    }

    /// The emulator's clock reading.
    pub fn now(&self) -> Timestamp {
        self.inner.clock.now()
    }

    /// The configuration the emulator was made with (wire and event faults as currently set).
    pub fn config(&self) -> EmulatorConfig {
        let state = self.state();
        EmulatorConfig {
            faults: state.faults.clone(),
            event_faults: state.events.faults.clone(),
            ..state.config.clone()
        }
    }

    /// Creates an `ACTIVE` data store (as `CreateFHIRDatastore` does) with its
    /// own profile, or the default one; returns its id. Its content is generated
    /// from the seed at once; a profile with no `resources`
    /// (`JobProfile::default().with_resources([])`) makes an empty data store,
    /// for imports to fill.
    pub fn create_datastore(&self, name: &str, profile: Option<JobProfile>) -> Result<String, EmulatorError> {
        let churn = self.state().config.churn;
        self.create_datastore_with_churn(name, profile, churn)
    }

    /// [`Emulator::create_datastore`] with its own [`Churn`] (instead of
    /// [`EmulatorConfig::churn`]): `churn.created_per_day` new resources and
    /// `churn.updated_per_day` updates a day, on virtual time from now (see
    /// [`Emulator::changes`]).
    pub fn create_datastore_with_churn(
        &self,
        name: &str,
        profile: Option<JobProfile>,
        churn: Churn,
    ) -> Result<String, EmulatorError> {
        let now = self.now();
        let mut state = self.processed_state(now);
        let profile = profile.unwrap_or_else(|| state.config.default_profile.clone());
        check_profile(&profile)?;
        let index = state.create_datastore(Some(name.to_owned()), profile, Map::new(), churn, now);
        Ok(state.datastores[index].info.datastore_id.clone())
    }

    /// Every change of a data store's content so far (churn up to the
    /// clock's now, and what imports stored), in time order; `None` for an
    /// unknown data store. The generated content of creation is not listed.
    pub fn changes(&self, datastore_id: &str) -> Option<Vec<ResourceChange>> {
        self.advance();
        let state = self.state();
        let index = state.datastore_position(datastore_id)?;
        Some(state.datastores[index].changes.clone())
    }

    /// Loses the answer of the next `n` FHIR REST kick-offs (on top of any
    /// still pending): each job is created, and the emulator answers
    /// `504 Gateway Timeout` with an empty body.
    pub fn lose_next_kickoff_answers(&self, n: u32) {
        let mut state = self.state();
        state.lost_kickoff_answers = state.lost_kickoff_answers.saturating_add(n);
    }

    /// Replaces a data store's profile. Jobs already submitted keep the profile
    /// they were submitted with; new resource counts regenerate the content
    /// (discarding what imports loaded).
    pub fn set_profile(&self, datastore_id: &str, profile: JobProfile) -> Result<(), EmulatorError> {
        self.state().set_profile(datastore_id, profile)
    }

    /// Replaces the injected faults (the fault streams go on where they were).
    pub fn set_faults(&self, faults: Faults) {
        self.state().faults = faults;
    }

    /// Replaces the injected event delivery faults, for events produced from
    /// now on (the fault streams go on where they were).
    pub fn set_event_faults(&self, faults: EventFaults) {
        self.state().events.faults = faults;
    }

    /// Every data store, in creation order.
    pub fn datastores(&self) -> Vec<DatastoreInfo> {
        self.advance();
        self.state().datastores.iter().map(|d| d.info.clone()).collect()
    }

    /// A data store's held resources as NDJSON lines, per resource type: the
    /// generated resources of streamed types
    /// ([`EmulatorConfig::stream_above`]) are not held, so not listed (what
    /// imports and churn add to those types is).
    pub fn resources(&self, datastore_id: &str) -> Option<BTreeMap<String, Vec<String>>> {
        self.advance();
        let state = self.state();
        let index = state.datastore_position(datastore_id)?;
        Some(
            state.datastores[index]
                .content
                .iter()
                .map(|(t, resources)| (t.clone(), resources.iter().map(|r| r.line.clone()).collect()))
                .collect(),
        )
    }

    /// The ids a data store holds, per resource type (generated and imported);
    /// as [`Emulator::resources`], without the generated resources of
    /// streamed types ([`DatastoreInfo::resource_counts`] counts them).
    pub fn resource_ids(&self, datastore_id: &str) -> Option<BTreeMap<String, BTreeSet<String>>> {
        self.advance();
        let state = self.state();
        let index = state.datastore_position(datastore_id)?;
        Some(
            state.datastores[index]
                .content
                .iter()
                .filter(|(_, resources)| !resources.is_empty())
                .map(|(t, resources)| (t.clone(), resources.iter().map(|r| r.id.clone()).collect()))
                .collect(),
        )
    }

    /// Every export job, in submit order, as of now.
    pub fn export_jobs(&self) -> Vec<JobInfo> {
        self.jobs(JobKind::Export)
    }

    /// Every import job, in submit order, as of now.
    pub fn import_jobs(&self) -> Vec<JobInfo> {
        self.jobs(JobKind::Import)
    }

    fn jobs(&self, kind: JobKind) -> Vec<JobInfo> {
        self.advance();
        self.state().jobs(kind).cloned().collect()
    }

    /// Every call received, in arrival order.
    pub fn calls(&self) -> Vec<CallRecord> {
        self.state().calls.clone()
    }

    /// Calls received per operation name.
    pub fn call_counts(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for call in &self.state().calls {
            *counts.entry(call.operation.clone()).or_default() += 1;
        }
        counts
    }

    /// Applies every transition scheduled up to the clock's now; returns them.
    pub fn advance(&self) -> Vec<Transition> {
        let now = self.now();
        self.processed(now).1
    }

    /// When the next thing happens: a scheduled transition (possibly already
    /// due) or an event delivery due after the clock's now, whichever is
    /// first. A virtual-time runner takes what is due now
    /// ([`Emulator::take_due_events`]: calls made since its last turn may
    /// have produced events), then advances the clock to this and calls
    /// [`Emulator::advance`]. Deliveries already due are not reported here (a
    /// runner that never takes events would stop on them forever):
    /// [`Emulator::next_event_at`] has them.
    pub fn next_change_at(&self) -> Option<Timestamp> {
        let now = self.now();
        let state = self.state();
        let transition = state.next_change_at();
        let delivery = state.events.next_delivery_after(now);
        match (transition, delivery) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// When the earliest event delivery not yet taken is due (possibly
    /// already). Events not produced yet (their transition is still ahead,
    /// see [`Emulator::next_change_at`]) and events held back for reordering
    /// are not counted.
    pub fn next_event_at(&self) -> Option<Timestamp> {
        self.advance();
        self.state().events.next_delivery_at()
    }

    /// Every EventBridge event produced so far, in production order, with its
    /// delivery time and the faults applied to it.
    pub fn events(&self) -> Vec<EventRecord> {
        self.advance();
        self.state().events.records.clone()
    }

    /// The event deliveries due at or before `now`, in delivery order, each
    /// handed out once: what a local event bus polls. Transitions are applied
    /// up to the clock's now first; `now` is normally the clock's reading, and
    /// a later `now` delivers nothing beyond it (events do not come from the
    /// future).
    pub fn take_due_events(&self, now: Timestamp) -> Vec<DeliveredEvent> {
        let clock = self.now();
        let mut state = self.processed_state(clock);
        state.events.take_due(now.min(clock))
    }

    /// Cancels an export job, as HealthLake's FHIR REST `DELETE` on the job
    /// does: `CANCEL_SUBMITTED`, then `CANCEL_IN_PROGRESS`, then
    /// `CANCEL_COMPLETED` (30 s each), with no EventBridge events. `None`
    /// when the job had already ended; an unknown job is an error.
    pub fn cancel_export(
        &self,
        datastore_id: &str,
        job_id: &str,
    ) -> Result<Option<hlx_core::JobStatus>, EmulatorError> {
        let now = self.now();
        let mut state = self.processed_state(now);
        let index = state
            .job_index_of(JobKind::Export, datastore_id, job_id)
            .ok_or_else(|| EmulatorError::UnknownJob(job_id.to_owned()))?;
        Ok(state.cancel(index, now))
    }

    /// Every transition so far, in the order they happened.
    pub fn transitions(&self) -> Vec<Transition> {
        self.state().transitions.clone()
    }

    /// Calls `operation` (a model name: `StartFHIRExportJob`) without HTTP, with
    /// faults, latency, validation and call records as over the wire.
    pub async fn call(&self, operation: &str, input: Value) -> Result<Value, ApiError> {
        let body = serde_json::to_vec(&input).unwrap_or_default();
        let reply = self
            .dispatch(Some(&format!("HealthLake.{operation}")), None, &body)
            .await;
        match reply.error {
            None => Ok(reply.body),
            Some(kind) => Err(ApiError::new(
                kind,
                reply.body["message"].as_str().unwrap_or_default(),
            )),
        }
    }

    /// The request pipeline: target, signature, faults, body, operation.
    ///
    /// `request` is `None` for in-process calls (never checked) and the
    /// request as received for HTTP ones.
    pub(crate) async fn dispatch(
        &self,
        target: Option<&str>,
        request: Option<&Received<'_>>,
        body: &[u8],
    ) -> Reply {
        let now = self.now();
        let (request_id, operation, fault, latency) = {
            let mut state = self.processed_state(now);
            let request_id = state.next_request_id();
            let operation = target.and_then(Operation::from_target);
            let (fault, latency) = match operation {
                Some(op) => state.draw_fault(op),
                None => (None, Default::default()),
            };
            (request_id, operation, fault, latency)
        };
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        let result = self.run(target, operation, request, fault, body);
        let (status, body, error) = match result {
            Ok(body) => (200, body, None),
            Err(error) => (error.kind.status(), error.body(), Some(error.kind)),
        };
        let name = match operation {
            Some(op) => op.name().to_owned(),
            None => target.unwrap_or("<no target>").to_owned(),
        };
        tracing::info!(operation = %name, status, error = ?error.map(ErrorKind::name), %request_id, "call");
        self.state().calls.push(CallRecord {
            operation: name,
            at: now,
            status,
            error: error.map(|e| e.name().to_owned()),
        });
        Reply {
            status,
            body,
            error,
            request_id,
        }
    }

    fn run(
        &self,
        target: Option<&str>,
        operation: Option<Operation>,
        request: Option<&Received<'_>>,
        fault: Option<ErrorKind>,
        body: &[u8],
    ) -> Result<Value, ApiError> {
        let Some(operation) = operation else {
            return Err(ApiError::new(
                ErrorKind::UnknownOperation,
                match target {
                    Some(target) => format!("Unknown operation {target}"),
                    None => "Missing X-Amz-Target header".to_owned(),
                },
            ));
        };
        if let Some(request) = request {
            self.check_signature(request)?;
        }
        match fault {
            Some(ErrorKind::Throttling) => {
                return Err(ApiError::new(ErrorKind::Throttling, "Rate exceeded"));
            }
            Some(ErrorKind::AccessDenied) => {
                return Err(ApiError::new(
                    ErrorKind::AccessDenied,
                    "User is not authorized to perform this operation on the data store",
                ));
            }
            Some(kind) => {
                return Err(ApiError::new(
                    kind,
                    "An internal error occurred. Try again later.",
                ));
            }
            None => {}
        }
        let input = parse_body(body)?;
        let now = self.now();
        let mut state = self.processed_state(now);
        api::handle(&mut state, operation, &input, now)
    }

    fn check_signature(&self, request: &Received<'_>) -> Result<(), ApiError> {
        let (require, verify, credentials) = {
            let state = self.state();
            (
                state.config.require_signature,
                state.config.verify_signatures,
                state.config.credentials.clone(),
            )
        };
        let header = request.headers.get("authorization").and_then(|v| v.to_str().ok());
        if header.is_none() && !require {
            return Ok(());
        }
        if verify {
            return sigv4::verify(request, &credentials);
        }
        match header {
            None => Err(ApiError::new(
                ErrorKind::MissingAuthenticationToken,
                "Missing Authentication Token",
            )),
            Some(value) if value.starts_with("AWS4-") && value.contains("Credential=") => Ok(()),
            Some(_) => Err(ApiError::new(
                ErrorKind::IncompleteSignature,
                "Authorization header requires a SigV4 'Credential', 'SignedHeaders' and 'Signature'",
            )),
        }
    }
}

fn parse_body(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::serialization("The request body must be a JSON object")),
        Err(error) => Err(ApiError::serialization(format!(
            "The request body is not valid JSON: {error}"
        ))),
    }
}
