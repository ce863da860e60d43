//! An export's work when it ends: select what it writes, write it.
//!
//! The selection is made under the state lock ([`ExportTask`]: the held
//! resources that pass, and for each streamed type what is needed to
//! generate it again); the writing ([`ExportTask::run`]) needs nothing
//! from the state, so it runs with the lock released (see
//! `crate::Emulator::processed_state`), and its outcome is handed back to the
//! job ([`ExportOutcome`]).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use jiff::Timestamp;

use crate::JobInfo;
use crate::config::OutputFault;
use crate::fhir::{self, References, StoredResource};
use crate::output::{self, WrittenExport};

/// Which versions of which resources an export lets through: the version
/// at its transaction time, last updated within `_since`/`_until`, in its
/// Patient or Group scope. Held and streamed resources pass the same test.
#[derive(Debug, Clone)]
pub(crate) struct Filter {
    /// The transaction time: each resource as it was then.
    pub time: Timestamp,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    /// The patients in scope (`Patient/{id}`): `None` for a system export.
    pub scope: Option<BTreeSet<String>>,
}

impl Filter {
    /// The version of `resource` (of `resource_type`) the export writes, if any.
    pub(crate) fn admit<'a>(
        &self,
        resource_type: &str,
        resource: &'a StoredResource,
    ) -> Option<&'a StoredResource> {
        resource
            .version_at(self.time)
            .filter(|v| self.passes(resource_type, v))
    }

    fn passes(&self, resource_type: &str, version: &StoredResource) -> bool {
        self.since.is_none_or(|since| version.last_updated >= since)
            && self.until.is_none_or(|until| version.last_updated <= until)
            && match &self.scope {
                None => true,
                Some(scope) if resource_type == "Patient" => {
                    scope.contains(&format!("Patient/{}", version.id))
                }
                Some(scope) => version.subject.as_ref().is_some_and(|s| scope.contains(s)),
            }
    }
}

/// How to generate a streamed type again: its stream and count, and the
/// patients and encounters its resources refer to.
#[derive(Debug, Clone)]
pub(crate) struct StreamedSource {
    pub seed: u64,
    pub datastore_id: String,
    pub count: usize,
    pub created_at: Timestamp,
    pub references: Arc<References>,
    /// Ids held for the type (imported, or created by churn): a streamed
    /// resource with one of them is replaced by the held one.
    pub superseded: HashSet<String>,
}

/// What an export writes of one type: its streamed resources (if it is
/// streamed) that pass the filter and are not superseded, then the held
/// ones selected.
#[derive(Debug)]
pub(crate) struct TypeSource {
    pub resource_type: String,
    pub streamed: Option<StreamedSource>,
    /// The held versions selected, in the content's order.
    pub held: Vec<StoredResource>,
}

impl TypeSource {
    /// The resources written, one at a time.
    fn resources(self, filter: &Filter) -> impl Iterator<Item = StoredResource> + '_ {
        let resource_type = self.resource_type;
        let streamed = self.streamed.into_iter().flat_map(move |source| {
            let StreamedSource {
                seed,
                datastore_id,
                count,
                created_at,
                references,
                superseded,
            } = source;
            let resource_type = resource_type.clone();
            fhir::stream(seed, &datastore_id, &resource_type, count, created_at, references)
                .filter(move |r| !superseded.contains(&r.id) && filter.admit(&resource_type, r).is_some())
        });
        streamed.chain(self.held)
    }
}

/// Where and how an export writes its files.
#[derive(Debug, Clone)]
pub(crate) struct OutputSettings {
    pub root: PathBuf,
    pub per_file: usize,
    pub faults: Vec<OutputFault>,
    /// The message of a `COMPLETED_WITH_ERRORS` export: it writes an error file.
    pub errors: Option<String>,
}

/// An ended export's work, made under the state lock, run without it.
#[derive(Debug)]
pub(crate) struct ExportTask {
    /// The job's index in the state.
    pub job: usize,
    pub info: JobInfo,
    /// When the job ends (the error file's `lastUpdated`).
    pub at: Timestamp,
    pub filter: Filter,
    /// Per type, in type order.
    pub types: Vec<TypeSource>,
    /// `None` without an output root: nothing is written, the selection is
    /// only counted.
    pub output: Option<OutputSettings>,
}

/// What an export selected of one type, counted as it was written.
#[derive(Debug, Default)]
struct Tally {
    count: usize,
    first_id: Option<String>,
    /// Every id, for held types only.
    ids: Option<BTreeSet<String>>,
}

impl Tally {
    fn new(keep_ids: bool) -> Self {
        Self {
            ids: keep_ids.then(BTreeSet::new),
            ..Self::default()
        }
    }

    fn note(&mut self, resource: &StoredResource) {
        self.count += 1;
        if self.first_id.is_none() {
            self.first_id = Some(resource.id.clone());
        }
        if let Some(ids) = &mut self.ids {
            ids.insert(resource.id.clone());
        }
    }
}

/// What an ended export did, for its job.
#[derive(Debug)]
pub(crate) struct ExportOutcome {
    pub job: usize,
    /// Its files; `None` without an output root.
    pub written: Option<io::Result<WrittenExport>>,
    /// The ids selected, per held type (see [`JobInfo::exported`]).
    pub exported: BTreeMap<String, BTreeSet<String>>,
    /// The resources selected, per type (see [`JobInfo::exported_counts`]).
    pub exported_counts: BTreeMap<String, usize>,
}

impl ExportTask {
    /// Writes the export (or, without an output root, counts it): type by
    /// type, each from its iterator, so a streamed type is generated as
    /// it is written.
    pub(crate) fn run(self) -> ExportOutcome {
        let ExportTask {
            job,
            info,
            at,
            filter,
            types,
            output,
        } = self;
        let mut tallies: Vec<(String, Tally)> = Vec::new();
        let written = match &output {
            Some(settings) => Some(write(&info, at, &filter, types, settings, &mut tallies)),
            None => {
                for source in types {
                    let mut tally = Tally::new(source.streamed.is_none());
                    let resource_type = source.resource_type.clone();
                    source.resources(&filter).for_each(|r| tally.note(&r));
                    tallies.push((resource_type, tally));
                }
                None
            }
        };
        let mut exported = BTreeMap::new();
        let mut exported_counts = BTreeMap::new();
        for (resource_type, tally) in tallies.into_iter().filter(|(_, t)| t.count > 0) {
            exported_counts.insert(resource_type.clone(), tally.count);
            if let Some(ids) = tally.ids {
                exported.insert(resource_type, ids);
            }
        }
        ExportOutcome {
            job,
            written,
            exported,
            exported_counts,
        }
    }
}

/// Writes an export's files, type by type in `types`' order, then its error
/// file; notes in `tallies` what each type selected (also a missing type's,
/// which is counted but not written).
fn write(
    info: &JobInfo,
    at: Timestamp,
    filter: &Filter,
    types: Vec<TypeSource>,
    settings: &OutputSettings,
    tallies: &mut Vec<(String, Tally)>,
) -> io::Result<WrittenExport> {
    let dir = output::export_dir(&settings.root, info)?;
    let mut files = Vec::new();
    for source in types {
        let resource_type = source.resource_type.clone();
        let faults: Vec<&OutputFault> = settings
            .faults
            .iter()
            .filter(|f| f.resource_type() == resource_type)
            .collect();
        let missing = faults
            .iter()
            .any(|f| matches!(f, OutputFault::MissingType { .. }));
        let mut tally = Tally::new(source.streamed.is_none());
        let lines = source.resources(filter).map(|r| {
            tally.note(&r);
            r.line
        });
        if missing {
            lines.for_each(drop);
        } else {
            let written = output::write_type(&dir, info, &resource_type, lines, settings.per_file, &faults)?;
            files.extend(written);
        }
        tallies.push((resource_type, tally));
    }
    if let Some(message) = &settings.errors {
        let first_ids: Vec<(&str, &str)> = tallies
            .iter()
            .filter_map(|(t, tally)| Some((t.as_str(), tally.first_id.as_deref()?)))
            .collect();
        files.push(output::write_errors(&dir, info, &first_ids, message, at)?);
    }
    Ok(WrittenExport { dir, files })
}
