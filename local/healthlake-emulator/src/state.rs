//! The emulator's state and its clock-driven job lifecycle.
//!
//! A job is `SUBMITTED` for its profile's queue delay; then it joins its
//! kind's wait line, ordered by submit order. One job of each kind runs at a
//! time (HealthLake's one export and one import per Region): the head of the
//! line starts the instant the running job ends. A waiting export shows
//! `QUEUED`; a waiting import stays `SUBMITTED` (import statuses have no
//! `QUEUED`). Every change happens at its scheduled time, whenever it is
//! processed.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use hlx_core::JobStatus;
use jiff::Timestamp;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value};

use crate::error::{EmulatorError, ErrorKind};
use crate::events::{EventBus, EventContext};
use crate::export::{ExportOutcome, ExportTask, Filter, OutputSettings, StreamedSource, TypeSource};
use crate::fhir::{self, Content, References, STREAMABLE_RESOURCE_TYPES, SUPPORTED_RESOURCE_TYPES};
use crate::import;
use crate::seed::{derive_seed, hex_id, request_id};
use crate::{
    CallRecord, ChangeKind, Churn, DatastoreInfo, EmulatorConfig, ExportScope, Faults, ImportReport, JobInfo,
    JobKind, JobProfile, Operation, Outcome, ResourceChange, RestExport, Transition,
};

pub(crate) struct Datastore {
    pub info: DatastoreInfo,
    /// The held resources: generated (but for streamed types), created by
    /// churn, imported.
    pub content: Content,
    /// The streamed types and their generated count (see
    /// [`EmulatorConfig::stream_above`]): generated again by each export.
    streamed: BTreeMap<String, usize>,
    /// The patients and encounters the content was generated with, which
    /// streamed resources refer to.
    references: Arc<References>,
    /// Churn changes applied so far (the next one's index).
    churn_done: u64,
    /// Every change of the content (churn and imports), in time order.
    pub changes: Vec<ResourceChange>,
    /// Members of `CreateFHIRDatastore` that are echoed back as given
    /// (`SseConfiguration`, `IdentityProviderConfiguration`, `PreloadDataConfig`).
    pub extras: Map<String, Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Submitted,
    Waiting,
    Running,
    /// An export that reached its end (`ends_at`) whose files are being
    /// written outside the state lock: it shows `IN_PROGRESS`, and nothing
    /// scheduled at or after its end happens until its outcome is back
    /// ([`State::complete_export`]); then it ends at `ends_at` as if written
    /// in no time.
    Writing,
    /// `CANCEL_SUBMITTED` until `ready_at`, then `CANCEL_IN_PROGRESS`.
    CancelSubmitted,
    /// `CANCEL_IN_PROGRESS` until `ends_at`, then `CANCEL_COMPLETED`.
    Cancelling,
    Done,
}

/// How long each cancellation step takes: `CANCEL_SUBMITTED` for this long,
/// then `CANCEL_IN_PROGRESS` for as long again.
pub const CANCEL_STEP: Duration = Duration::from_secs(30);

struct Job {
    info: JobInfo,
    profile: JobProfile,
    ready_at: Timestamp,
    ends_at: Option<Timestamp>,
    stage: Stage,
    /// An export's written output, once back from its [`ExportTask`], for
    /// [`State::finish`].
    export_outcome: Option<ExportOutcome>,
}

/// What a new job is asked to do.
pub(crate) struct NewJob {
    pub kind: JobKind,
    pub datastore: usize,
    pub job_name: Option<String>,
    pub s3_uri: String,
    pub kms_key_id: String,
    pub job_output_s3_uri: Option<String>,
    pub data_access_role_arn: String,
    pub client_token: Option<String>,
    pub rest: Option<RestExport>,
}

/// The idempotency key of a Start call: data store, operation, token.
type TokenKey = (String, JobKind, String);

pub(crate) struct State {
    pub config: EmulatorConfig,
    pub faults: Faults,
    fault_rngs: HashMap<Operation, ChaCha8Rng>,
    pub datastores: Vec<Datastore>,
    datastore_index: HashMap<String, usize>,
    jobs: Vec<Job>,
    job_index: HashMap<String, usize>,
    running: [Option<usize>; 2],
    waiting: [Vec<usize>; 2],
    pub transitions: Vec<Transition>,
    pub events: EventBus,
    job_tokens: HashMap<TokenKey, (String, usize)>,
    pub datastore_tokens: HashMap<String, (String, usize)>,
    pub calls: Vec<CallRecord>,
    ids_issued: u64,
    requests: u64,
    /// Kick-off answers still to lose (see [`EmulatorConfig::lost_kickoff_answers`]).
    pub lost_kickoff_answers: u32,
    /// Ended exports' work not yet taken by a caller ([`State::take_export_task`]).
    export_tasks: Vec<ExportTask>,
}

fn later(at: Timestamp, by: Duration) -> Timestamp {
    at.checked_add(by).unwrap_or(Timestamp::MAX)
}

pub(crate) fn check_profile(profile: &JobProfile) -> Result<(), EmulatorError> {
    for resource_type in profile.resources.keys() {
        if !SUPPORTED_RESOURCE_TYPES.contains(&resource_type.as_str()) {
            return Err(EmulatorError::UnsupportedResourceType(resource_type.clone()));
        }
    }
    Ok(())
}

impl State {
    pub fn new(config: EmulatorConfig) -> Self {
        let lost_kickoff_answers = config.lost_kickoff_answers;
        Self {
            faults: config.faults.clone(),
            events: EventBus::new(config.seed, config.event_faults.clone(), config.queued_events),
            config,
            fault_rngs: HashMap::new(),
            datastores: Vec::new(),
            datastore_index: HashMap::new(),
            jobs: Vec::new(),
            job_index: HashMap::new(),
            running: [None, None],
            waiting: [Vec::new(), Vec::new()],
            transitions: Vec::new(),
            job_tokens: HashMap::new(),
            datastore_tokens: HashMap::new(),
            calls: Vec::new(),
            ids_issued: 0,
            requests: 0,
            lost_kickoff_answers,
            export_tasks: Vec::new(),
        }
    }

    fn next_id(&mut self, what: &str) -> String {
        loop {
            let id = hex_id(self.config.seed, what, self.ids_issued);
            self.ids_issued += 1;
            if !self.datastore_index.contains_key(&id) && !self.job_index.contains_key(&id) {
                return id;
            }
        }
    }

    pub fn next_request_id(&mut self) -> String {
        let id = request_id(self.config.seed, self.requests);
        self.requests += 1;
        id
    }

    /// One draw from `operation`'s fault stream: the error to answer with, if any.
    pub fn draw_fault(&mut self, operation: Operation) -> (Option<ErrorKind>, Duration) {
        let spec = self.faults.for_operation(operation);
        let seed = self.config.seed;
        let rng = self
            .fault_rngs
            .entry(operation)
            .or_insert_with(|| ChaCha8Rng::from_seed(derive_seed(seed, &["faults", operation.name()])));
        let draw: f64 = rng.random();
        let error = if draw < spec.throttle_rate {
            Some(ErrorKind::Throttling)
        } else if draw < spec.throttle_rate + spec.internal_error_rate {
            Some(ErrorKind::InternalServer)
        } else if draw < spec.throttle_rate + spec.internal_error_rate + spec.access_denied_rate {
            Some(ErrorKind::AccessDenied)
        } else {
            None
        };
        (error, spec.latency)
    }

    // ---- data stores ----

    pub fn create_datastore(
        &mut self,
        name: Option<String>,
        profile: JobProfile,
        extras: Map<String, Value>,
        churn: Churn,
        now: Timestamp,
    ) -> usize {
        let id = self.next_id("datastore");
        let region = &self.config.region;
        let info = DatastoreInfo {
            arn: format!(
                "arn:aws:healthlake:{region}:{}:datastore/fhir/{id}",
                self.config.account_id
            ),
            endpoint: format!("https://healthlake.{region}.amazonaws.com/datastore/{id}/r4/"),
            datastore_id: id.clone(),
            name,
            status: "ACTIVE".into(),
            created_at: now,
            resource_counts: BTreeMap::new(),
            profile,
            churn,
        };
        let mut datastore = Datastore {
            info,
            content: Content::new(),
            streamed: BTreeMap::new(),
            references: Arc::default(),
            churn_done: 0,
            changes: Vec::new(),
            extras,
        };
        regenerate(&self.config, &mut datastore);
        self.datastores.push(datastore);
        let index = self.datastores.len() - 1;
        self.datastore_index.insert(id, index);
        index
    }

    pub fn datastore_position(&self, id: &str) -> Option<usize> {
        self.datastore_index.get(id).copied()
    }

    pub fn set_profile(&mut self, id: &str, profile: JobProfile) -> Result<(), EmulatorError> {
        check_profile(&profile)?;
        let index = self
            .datastore_position(id)
            .ok_or_else(|| EmulatorError::UnknownDatastore(id.to_owned()))?;
        let datastore = &mut self.datastores[index];
        let recount = datastore.info.profile.resources != profile.resources;
        datastore.info.profile = profile;
        if recount {
            regenerate(&self.config, datastore);
        }
        Ok(())
    }

    // ---- jobs ----

    pub fn token_lookup(&self, key: &TokenKey) -> Option<&(String, usize)> {
        self.job_tokens.get(key)
    }

    pub fn job_at(&self, index: usize) -> &JobInfo {
        &self.jobs[index].info
    }

    pub fn job(&self, kind: JobKind, datastore_id: &str, job_id: &str) -> Option<&JobInfo> {
        self.job_index
            .get(job_id)
            .map(|&i| &self.jobs[i].info)
            .filter(|job| job.kind == kind && job.datastore_id == datastore_id)
    }

    pub fn job_index_of(&self, kind: JobKind, datastore_id: &str, job_id: &str) -> Option<usize> {
        self.job(kind, datastore_id, job_id)?;
        self.job_index.get(job_id).copied()
    }

    pub fn jobs(&self, kind: JobKind) -> impl DoubleEndedIterator<Item = &JobInfo> {
        self.jobs
            .iter()
            .map(|job| &job.info)
            .filter(move |job| job.kind == kind)
    }

    /// Submits a job at `now`; `fingerprint` is what an idempotent retry must repeat.
    pub fn submit(&mut self, new: NewJob, fingerprint: String, now: Timestamp) -> usize {
        let job_id = self.next_id("job");
        let datastore = &self.datastores[new.datastore];
        let datastore_id = datastore.info.datastore_id.clone();
        let profile = datastore.info.profile.clone();
        let info = JobInfo {
            kind: new.kind,
            job_id: job_id.clone(),
            job_name: new.job_name,
            datastore_id: datastore_id.clone(),
            status: JobStatus::Submitted,
            submit_time: now,
            start_time: None,
            end_time: None,
            message: None,
            s3_uri: new.s3_uri,
            kms_key_id: new.kms_key_id,
            job_output_s3_uri: new.job_output_s3_uri,
            data_access_role_arn: new.data_access_role_arn,
            client_token: new.client_token.clone(),
            files: Vec::new(),
            output_dir: None,
            import_report: None,
            transaction_time: None,
            rest: new.rest,
            exported: BTreeMap::new(),
            exported_counts: BTreeMap::new(),
            output_files: Vec::new(),
        };
        self.jobs.push(Job {
            info,
            ready_at: later(now, profile.queue_delay),
            profile,
            ends_at: None,
            stage: Stage::Submitted,
            export_outcome: None,
        });
        let index = self.jobs.len() - 1;
        self.job_index.insert(job_id.clone(), index);
        if let Some(token) = new.client_token {
            self.job_tokens
                .insert((datastore_id.clone(), new.kind, token), (fingerprint, index));
        }
        self.record(now, index, JobStatus::Submitted);
        index
    }

    fn record(&mut self, at: Timestamp, index: usize, status: JobStatus) {
        let info = &self.jobs[index].info;
        tracing::info!(
            job_id = %info.job_id,
            datastore_id = %info.datastore_id,
            kind = ?info.kind,
            %status,
            %at,
            "job status"
        );
        let transition = Transition {
            at,
            job_id: info.job_id.clone(),
            datastore_id: info.datastore_id.clone(),
            kind: info.kind,
            status,
        };
        self.events.emit(
            &transition,
            EventContext {
                region: &self.config.region,
                account: &self.config.account_id,
                submit_time: info.submit_time,
                s3_uri: &info.s3_uri,
            },
        );
        self.transitions.push(transition);
    }

    /// The time of the next scheduled transition, processed or not.
    pub fn next_change_at(&self) -> Option<Timestamp> {
        self.jobs
            .iter()
            .filter_map(|job| match job.stage {
                Stage::Submitted | Stage::CancelSubmitted => Some(job.ready_at),
                Stage::Running | Stage::Writing | Stage::Cancelling => job.ends_at,
                Stage::Waiting | Stage::Done => None,
            })
            .min()
    }

    /// Applies every change scheduled at or before `now`, in time order;
    /// returns the transitions this made. It stops short at an export that
    /// ends with files to write: that work is left for the caller
    /// ([`State::take_export_task`], then [`State::complete_export`] and
    /// `process` again), and while it is under way (or not yet taken),
    /// nothing at or after that export's end happens.
    pub fn process(&mut self, now: Timestamp) -> Vec<Transition> {
        let before = self.transitions.len();
        while let Some(at) = self.next_change_at().filter(|&at| at <= now) {
            // Content changes due by a transition happen before it.
            self.apply_churn(at);
            if self.exports_to_write(at) {
                return self.transitions[before..].to_vec();
            }
            self.step(at);
        }
        self.apply_churn(now);
        self.transitions[before..].to_vec()
    }

    /// [`State::process`] that also writes the ended exports' files, with
    /// the lock held all along: for the calls made inside a request that
    /// already holds it (a job submitted with no queue delay and no run time
    /// ends in the same call). Everywhere else the Emulator writes them with
    /// the lock released.
    pub fn process_writing_inline(&mut self, now: Timestamp) {
        loop {
            self.process(now);
            let Some(task) = self.take_export_task() else {
                return;
            };
            self.complete_export(task.run());
        }
    }

    /// An ended export's work, to run without the lock
    /// ([`ExportTask::run`]) and hand back to [`State::complete_export`].
    pub fn take_export_task(&mut self) -> Option<ExportTask> {
        self.export_tasks.pop()
    }

    /// Hands an export's written output back to its job, which then ends at
    /// its scheduled time on the next [`State::process`].
    pub fn complete_export(&mut self, outcome: ExportOutcome) {
        let job = &mut self.jobs[outcome.job];
        debug_assert_eq!(job.stage, Stage::Writing);
        job.stage = Stage::Running;
        job.export_outcome = Some(outcome);
    }

    /// Whether an export ending at `at` has its files to write first: an
    /// export already being written, or one that ends now with output (not
    /// failed) and no outcome yet, whose task this makes.
    fn exports_to_write(&mut self, at: Timestamp) -> bool {
        let mut pending = false;
        for index in self.running.into_iter().flatten() {
            let job = &self.jobs[index];
            if job.ends_at != Some(at) || job.info.kind != JobKind::Export {
                continue;
            }
            match job.stage {
                Stage::Writing => pending = true,
                Stage::Running
                    if job.export_outcome.is_none()
                        && !matches!(job.profile.outcome, Outcome::Failed { .. }) =>
                {
                    let task = self.export_task(index, at);
                    self.jobs[index].stage = Stage::Writing;
                    self.export_tasks.push(task);
                    pending = true;
                }
                _ => {}
            }
        }
        pending
    }

    /// Cancels a job that has not ended: `CANCEL_SUBMITTED` now,
    /// `CANCEL_IN_PROGRESS` after [`CANCEL_STEP`], `CANCEL_COMPLETED` after
    /// another; a running job keeps its slot until then, a waiting one leaves
    /// the line at once. HealthLake sends no events for these statuses.
    /// Returns the status, or `None` when the job had already ended.
    pub fn cancel(&mut self, index: usize, now: Timestamp) -> Option<JobStatus> {
        let stage = self.jobs[index].stage;
        match stage {
            // Its end is due: it only waits for its files.
            Stage::Done | Stage::Writing => return None,
            Stage::CancelSubmitted | Stage::Cancelling => return Some(self.jobs[index].info.status.clone()),
            Stage::Waiting => {
                let kind = self.jobs[index].info.kind.index();
                self.waiting[kind].retain(|&other| other != index);
            }
            Stage::Submitted | Stage::Running => {}
        }
        let job = &mut self.jobs[index];
        job.stage = Stage::CancelSubmitted;
        job.ready_at = later(now, CANCEL_STEP);
        job.info.status = JobStatus::CancelSubmitted;
        self.record(now, index, JobStatus::CancelSubmitted);
        Some(JobStatus::CancelSubmitted)
    }

    fn step(&mut self, at: Timestamp) {
        for index in 0..self.jobs.len() {
            let job = &mut self.jobs[index];
            if job.stage == Stage::CancelSubmitted && job.ready_at == at {
                job.stage = Stage::Cancelling;
                job.ends_at = Some(later(at, CANCEL_STEP));
                job.info.status = JobStatus::CancelInProgress;
                self.record(at, index, JobStatus::CancelInProgress);
            } else if job.stage == Stage::Cancelling && job.ends_at == Some(at) {
                job.stage = Stage::Done;
                job.info.status = JobStatus::CancelCompleted;
                job.info.end_time = Some(at);
                job.info.message = Some("The export job was cancelled.".into());
                let kind = job.info.kind.index();
                if self.running[kind] == Some(index) {
                    self.running[kind] = None;
                }
                self.record(at, index, JobStatus::CancelCompleted);
            }
        }
        // Jobs that end now free their slot first, so a job that becomes
        // ready at the same instant can start without queueing.
        for slot in 0..2 {
            if let Some(index) = self.running[slot]
                && self.jobs[index].stage == Stage::Running
                && self.jobs[index].ends_at == Some(at)
            {
                self.running[slot] = None;
                self.finish(index, at);
            }
        }
        let mut joined = Vec::new();
        for index in 0..self.jobs.len() {
            let job = &mut self.jobs[index];
            if job.stage == Stage::Submitted && job.ready_at == at {
                job.stage = Stage::Waiting;
                let line = &mut self.waiting[job.info.kind.index()];
                let position = line.partition_point(|&other| other < index);
                line.insert(position, index);
                joined.push(index);
            }
        }
        for slot in 0..2 {
            if self.running[slot].is_none() && !self.waiting[slot].is_empty() {
                let index = self.waiting[slot].remove(0);
                self.start(index, at);
            }
        }
        for index in joined {
            let job = &self.jobs[index];
            if job.stage == Stage::Waiting && job.info.kind == JobKind::Export {
                self.jobs[index].info.status = JobStatus::Queued;
                self.record(at, index, JobStatus::Queued);
            }
        }
    }

    fn start(&mut self, index: usize, at: Timestamp) {
        let job = &mut self.jobs[index];
        job.stage = Stage::Running;
        job.ends_at = Some(later(at, job.profile.run_duration));
        job.info.start_time = Some(at);
        job.info.status = JobStatus::InProgress;
        if job.info.kind == JobKind::Export {
            job.info.transaction_time = Some(at);
        }
        if job.info.kind == JobKind::Import {
            job.info.import_report = Some(ImportReport::default());
        }
        self.running[job.info.kind.index()] = Some(index);
        self.record(at, index, JobStatus::InProgress);
    }

    /// Ends a running job at `at`. An export takes its written output (see
    /// [`State::exports_to_write`]; unless its profile fails it). An import loads its input (see
    /// [`import::run`]) when there is an output root and its profile does not
    /// fail it; then the data decides how it ends, whatever else the profile
    /// says. Without an output root an import reads nothing and ends as its
    /// profile says.
    fn finish(&mut self, index: usize, at: Timestamp) {
        let (mut status, mut message) = match &self.jobs[index].profile.outcome {
            Outcome::Completed => (JobStatus::Completed, None),
            Outcome::CompletedWithErrors { message } => {
                (JobStatus::CompletedWithErrors, Some(message.clone()))
            }
            Outcome::Failed { message } => (JobStatus::Failed, Some(message.clone())),
        };
        let job = &mut self.jobs[index];
        if job.info.kind == JobKind::Export
            && status != JobStatus::Failed
            && let Some(outcome) = job.export_outcome.take()
        {
            if let Some(written) = outcome.written {
                match written {
                    Ok(written) => {
                        let info = &mut job.info;
                        info.output_dir = Some(written.dir);
                        info.files = written.files.iter().map(|f| f.path.clone()).collect();
                        info.output_files = written.files;
                    }
                    Err(error) => {
                        tracing::warn!(%error, "could not write export output");
                        status = JobStatus::Failed;
                        message = Some(format!(
                            "Could not write to the output location: {}",
                            error.kind()
                        ));
                    }
                }
            }
            if status != JobStatus::Failed {
                job.info.exported = outcome.exported;
                job.info.exported_counts = outcome.exported_counts;
            }
        }
        let job = &self.jobs[index];
        if job.info.kind == JobKind::Import
            && status != JobStatus::Failed
            && let Some(root) = &self.config.output_root
            && let Some(position) = self.datastore_index.get(&job.info.datastore_id).copied()
        {
            let datastore = &mut self.datastores[position];
            let run = import::run(
                root,
                &job.info,
                &mut datastore.content,
                job.profile.run_duration,
                at,
            );
            datastore
                .changes
                .extend(run.loaded.iter().map(|(resource_type, id)| ResourceChange {
                    at,
                    resource_type: resource_type.clone(),
                    id: id.clone(),
                    kind: ChangeKind::Imported,
                }));
            recount(datastore);
            (status, message) = (run.status, run.message);
            let info = &mut self.jobs[index].info;
            info.import_report = Some(run.report);
            info.output_dir = run.output_dir;
            info.files = run.files;
        }
        let job = &mut self.jobs[index];
        job.stage = Stage::Done;
        job.info.status = status.clone();
        job.info.message = message;
        job.info.end_time = Some(at);
        self.record(at, index, status);
    }
}

/// Generates a data store's content from its profile: the types above
/// [`EmulatorConfig::stream_above`] that can be streamed are only noted
/// (with the references they need), the rest is held.
fn regenerate(config: &EmulatorConfig, datastore: &mut Datastore) {
    let counts = &datastore.info.profile.resources;
    datastore.streamed = counts
        .iter()
        .filter(|(t, n)| STREAMABLE_RESOURCE_TYPES.contains(&t.as_str()) && **n > config.stream_above)
        .map(|(t, n)| (t.clone(), *n))
        .collect();
    let streamed: BTreeSet<String> = datastore.streamed.keys().cloned().collect();
    datastore.content = fhir::generate(
        config.seed,
        &datastore.info.datastore_id,
        counts,
        &streamed,
        datastore.info.created_at,
    );
    datastore.references = Arc::new(References::of(&datastore.content));
    recount(datastore);
}

/// Brings `resource_counts` in line with the content: held resources plus
/// the streamed ones.
fn recount(datastore: &mut Datastore) {
    let mut counts: BTreeMap<String, usize> = datastore
        .content
        .iter()
        .map(|(t, resources)| (t.clone(), resources.len()))
        .collect();
    for (t, n) in &datastore.streamed {
        *counts.entry(t.clone()).or_default() += n;
    }
    datastore.info.resource_counts = counts;
}

/// The filter of an export of `content` (see [`Filter`]): at the job's
/// transaction time (`at` if it has none), with its `_since`, `_until` and
/// the patients of its scope as they were then.
fn export_filter(content: &Content, job: &JobInfo, at: Timestamp) -> Filter {
    let time = job.transaction_time.unwrap_or(at);
    let rest = job.rest.as_ref();
    let patients: BTreeSet<String> = content
        .get("Patient")
        .into_iter()
        .flatten()
        .filter(|p| p.version_at(time).is_some())
        .map(|p| format!("Patient/{}", p.id))
        .collect();
    let scope = match rest.map(|r| &r.scope) {
        None | Some(ExportScope::System) => None,
        Some(ExportScope::Patient) => Some(patients),
        Some(ExportScope::Group(group_id)) => Some(
            content
                .get("Group")
                .into_iter()
                .flatten()
                .find(|g| &g.id == group_id)
                .and_then(|g| g.version_at(time))
                .map(|g| {
                    g.members
                        .iter()
                        .filter(|m| patients.contains(*m))
                        .cloned()
                        .collect()
                })
                .unwrap_or_default(),
        ),
    };
    Filter {
        time,
        since: rest.and_then(|r| r.since),
        until: rest.and_then(|r| r.until),
        scope,
    }
}

impl State {
    /// What export `index`, ending at `at`, writes: per type its `_type`
    /// lets through, the held versions the filter admits, and for a
    /// streamed type how to generate it again.
    fn export_task(&self, index: usize, at: Timestamp) -> ExportTask {
        let job = &self.jobs[index];
        let datastore = self
            .datastore_position(&job.info.datastore_id)
            .map(|i| &self.datastores[i]);
        let filter = datastore.map_or_else(
            || export_filter(&Content::new(), &job.info, at),
            |d| export_filter(&d.content, &job.info, at),
        );
        let wanted = |t: &str| {
            job.info
                .rest
                .as_ref()
                .and_then(|r| r.types.as_ref())
                .is_none_or(|types| types.iter().any(|w| w == t))
        };
        let mut types = Vec::new();
        if let Some(datastore) = datastore {
            let names: BTreeSet<&String> = datastore
                .content
                .keys()
                .chain(datastore.streamed.keys())
                .collect();
            for resource_type in names.into_iter().filter(|t| wanted(t)) {
                let held = datastore
                    .content
                    .get(resource_type)
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                let streamed = datastore
                    .streamed
                    .get(resource_type)
                    .map(|&count| StreamedSource {
                        seed: self.config.seed,
                        datastore_id: datastore.info.datastore_id.clone(),
                        count,
                        created_at: datastore.info.created_at,
                        references: datastore.references.clone(),
                        superseded: held.iter().map(|r| r.id.clone()).collect(),
                    });
                types.push(TypeSource {
                    resource_type: resource_type.clone(),
                    streamed,
                    held: held
                        .iter()
                        .filter_map(|r| filter.admit(resource_type, r))
                        .map(|v| v.snapshot())
                        .collect(),
                });
            }
        }
        let message = match &job.profile.outcome {
            Outcome::CompletedWithErrors { message } => Some(message.clone()),
            Outcome::Completed | Outcome::Failed { .. } => None,
        };
        ExportTask {
            job: index,
            info: job.info.clone(),
            at,
            filter,
            types,
            output: self.config.output_root.clone().map(|root| OutputSettings {
                root,
                per_file: self.config.resources_per_file,
                faults: job.profile.output_faults.clone(),
                errors: message,
            }),
        }
    }
}

const DAY_NANOS: i128 = 86_400 * 1_000_000_000;

/// When churn change `k` of a data store created at `created` with `churn` happens:
/// day `d = k / n`, change `i = k % n` at `created + d days + (i + 0.5) * 86400 / n s`.
fn churn_instant(created: Timestamp, churn: Churn, k: u64) -> Option<Timestamp> {
    let n = u64::from(churn.created_per_day) + u64::from(churn.updated_per_day);
    if n == 0 {
        return None;
    }
    let (day, i) = (i128::from(k / n), i128::from(k % n));
    let offset = day * DAY_NANOS + (2 * i + 1) * DAY_NANOS / (2 * i128::from(n));
    let nanos = created.as_nanosecond().checked_add(offset)?;
    Timestamp::from_nanosecond(nanos).ok()
}

/// Whether churn change `k` creates a resource (else it updates one): the
/// creates of a day are spread evenly among its changes.
fn churn_creates(churn: Churn, k: u64) -> bool {
    let n = u64::from(churn.created_per_day) + u64::from(churn.updated_per_day);
    let (c, i) = (u64::from(churn.created_per_day), k % n);
    (i + 1) * c / n > i * c / n
}

impl State {
    /// Applies every data store's churn changes due at or before `until`, in time order.
    pub fn apply_churn(&mut self, until: Timestamp) {
        let seed = self.config.seed;
        for datastore in &mut self.datastores {
            let churn = datastore.info.churn;
            let mut applied = false;
            while let Some(at) = churn_instant(datastore.info.created_at, churn, datastore.churn_done)
                .filter(|&at| at <= until)
            {
                let k = datastore.churn_done;
                datastore.churn_done += 1;
                apply_change(seed, datastore, churn_creates(churn, k), k, at);
                applied = true;
            }
            if applied {
                recount(datastore);
            }
        }
    }
}

/// One churn change: a new resource of one of the generated types (drawn by
/// their counts) or a new version of a stored resource (drawn uniformly).
fn apply_change(seed: u64, datastore: &mut Datastore, create: bool, k: u64, at: Timestamp) {
    let mut rng = ChaCha8Rng::from_seed(derive_seed(
        seed,
        &["churn", &datastore.info.datastore_id, &k.to_string()],
    ));
    if create {
        let weights: Vec<(&String, usize)> = datastore
            .info
            .profile
            .resources
            .iter()
            .filter(|(t, n)| t.as_str() != "Group" && **n > 0)
            .map(|(t, n)| (t, *n))
            .collect();
        let total: usize = weights.iter().map(|(_, n)| n).sum();
        let resource_type = if total == 0 {
            "Patient".to_owned()
        } else {
            let mut draw = rng.random_range(0..total);
            let mut chosen = weights[0].0;
            for (t, n) in &weights {
                if draw < *n {
                    chosen = t;
                    break;
                }
                draw -= n;
            }
            chosen.clone()
        };
        let resource = fhir::churn_create(&resource_type, &mut rng, at, &datastore.content);
        datastore.changes.push(ResourceChange {
            at,
            resource_type: resource_type.clone(),
            id: resource.id.clone(),
            kind: ChangeKind::Created,
        });
        datastore.content.entry(resource_type).or_default().push(resource);
    } else {
        let total: usize = datastore.content.values().map(Vec::len).sum();
        if total == 0 {
            return;
        }
        let mut draw = rng.random_range(0..total);
        for (resource_type, resources) in &mut datastore.content {
            if draw >= resources.len() {
                draw -= resources.len();
                continue;
            }
            let current = &mut resources[draw];
            if let Some(next) = fhir::churn_update(current, &mut rng, at) {
                datastore.changes.push(ResourceChange {
                    at,
                    resource_type: resource_type.clone(),
                    id: current.id.clone(),
                    kind: ChangeKind::Updated,
                });
                current.replace_with(next);
            }
            return;
        }
    }
}
