//! Synthetic FHIR R4 resources: a data store's content, generated from the seed.
//!
//! Each resource type is drawn from its own stream, so adding observations
//! leaves the patients as they were, and the first `n` resources of a type are
//! the same whatever the count. References always point at resources that
//! exist in the same data store: an encounter's subject is one of its
//! patients; an observation, condition, procedure or medication request points
//! at an encounter and that encounter's patient.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use crate::seed::derive_seed;

/// The resource types the generator knows, in the order they are generated.
pub const SUPPORTED_RESOURCE_TYPES: &[&str] = &[
    "Patient",
    "Encounter",
    "Observation",
    "Condition",
    "Procedure",
    "MedicationRequest",
    "Group",
];

/// One stored resource: its id and its JSON, one NDJSON line. Generated or
/// imported, of any R4 type. The fields describe the current version; the
/// earlier ones are in `history`, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredResource {
    pub id: String,
    /// The patient it belongs to: `subject.reference`, else `patient.reference`.
    pub subject: Option<String>,
    pub line: String,
    /// When this version was stored: a generated resource's `meta.lastUpdated`,
    /// an imported one's import end.
    pub last_updated: Timestamp,
    /// A group's `member[].entity.reference`s.
    pub members: Vec<String>,
    /// Earlier versions (each with an empty history), oldest first.
    pub history: Vec<StoredResource>,
}

/// A data store's content, per resource type.
pub(crate) type Content = BTreeMap<String, Vec<StoredResource>>;

/// The clinical types: each resource refers to an encounter and its patient,
/// and nothing refers to them, so a large count of one of them can be
/// streamed (generated at export time, never held; see [`stream`]).
pub(crate) const STREAMABLE_RESOURCE_TYPES: &[&str] =
    &["Observation", "Condition", "Procedure", "MedicationRequest"];

/// Generates a data store's held content: every type of `counts` but those
/// in `streamed`, which [`stream`] generates when an export needs them.
/// `created_at` anchors every date. Leaving a type out changes no other
/// type: each type is drawn from its own stream.
pub(crate) fn generate(
    seed: u64,
    datastore_id: &str,
    counts: &BTreeMap<String, usize>,
    streamed: &BTreeSet<String>,
    created_at: Timestamp,
) -> Content {
    let mut content = Content::new();
    for &resource_type in SUPPORTED_RESOURCE_TYPES {
        let count = counts.get(resource_type).copied().unwrap_or(0);
        if count == 0 || streamed.contains(resource_type) {
            continue;
        }
        let mut rng = type_stream(seed, datastore_id, resource_type);
        let mut resources = Vec::with_capacity(count);
        for _ in 0..count {
            let value = match resource_type {
                "Patient" => patient(&mut rng, created_at),
                "Encounter" => encounter(&mut rng, created_at, &content),
                "Group" => group(&mut rng, created_at, &content),
                other => clinical(other, &mut rng, created_at, &content),
            };
            resources.push(stored(value));
        }
        content.insert(resource_type.to_owned(), resources);
    }
    content
}

/// The random stream of one generated type of one data store.
fn type_stream(seed: u64, datastore_id: &str, resource_type: &str) -> ChaCha8Rng {
    ChaCha8Rng::from_seed(derive_seed(seed, &["content", datastore_id, resource_type]))
}

/// The `count` resources of a streamed clinical type, one at a time: the
/// very resources (same lines) [`generate`] would have held for it, drawn
/// from the same stream, referring to `references` (the patients and
/// encounters the data store was generated with).
pub(crate) fn stream(
    seed: u64,
    datastore_id: &str,
    resource_type: &str,
    count: usize,
    created_at: Timestamp,
    references: Arc<References>,
) -> impl Iterator<Item = StoredResource> + use<> {
    let mut rng = type_stream(seed, datastore_id, resource_type);
    let resource_type = resource_type.to_owned();
    (0..count).map(move |_| {
        stored(clinical(
            &resource_type,
            &mut rng,
            created_at,
            references.as_ref(),
        ))
    })
}

/// What a generated clinical resource may refer to: patients, and
/// encounters with their subject.
pub(crate) trait ReferencePool {
    fn patient_count(&self) -> usize;
    fn patient_id(&self, index: usize) -> &str;
    fn encounter_count(&self) -> usize;
    /// The encounter's id and its `subject.reference`.
    fn encounter(&self, index: usize) -> (&str, Option<&str>);
}

impl ReferencePool for Content {
    fn patient_count(&self) -> usize {
        self.get("Patient").map_or(0, Vec::len)
    }

    fn patient_id(&self, index: usize) -> &str {
        &self["Patient"][index].id
    }

    fn encounter_count(&self) -> usize {
        self.get("Encounter").map_or(0, Vec::len)
    }

    fn encounter(&self, index: usize) -> (&str, Option<&str>) {
        let encounter = &self["Encounter"][index];
        (&encounter.id, encounter.subject.as_deref())
    }
}

/// The patients and encounters a data store's content was generated with,
/// copied (ids and subjects only) so that streamed types keep referring to
/// them whatever churn and imports do to the held content later.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct References {
    patients: Vec<String>,
    /// Id and `subject.reference` of each encounter.
    encounters: Vec<(String, Option<String>)>,
}

impl References {
    /// The patients and encounters of `content`, in its order.
    pub(crate) fn of(content: &Content) -> Self {
        let of_type = |t: &str| content.get(t).map(Vec::as_slice).unwrap_or_default();
        Self {
            patients: of_type("Patient").iter().map(|p| p.id.clone()).collect(),
            encounters: of_type("Encounter")
                .iter()
                .map(|e| (e.id.clone(), e.subject.clone()))
                .collect(),
        }
    }
}

impl ReferencePool for References {
    fn patient_count(&self) -> usize {
        self.patients.len()
    }

    fn patient_id(&self, index: usize) -> &str {
        &self.patients[index]
    }

    fn encounter_count(&self) -> usize {
        self.encounters.len()
    }

    fn encounter(&self, index: usize) -> (&str, Option<&str>) {
        let (id, subject) = &self.encounters[index];
        (id, subject.as_deref())
    }
}

fn stored(value: Value) -> StoredResource {
    let line = value.to_string();
    StoredResource::new(&value, line)
}

impl StoredResource {
    /// `value` stored as `line` (its NDJSON text, written back as is by
    /// exports), last updated at its `meta.lastUpdated` (the Unix epoch when it
    /// has none; imports set their own time).
    pub(crate) fn new(value: &Value, line: String) -> Self {
        let reference = |field: &str| value[field]["reference"].as_str().map(str::to_owned);
        Self {
            id: value["id"].as_str().unwrap_or_default().to_owned(),
            subject: reference("subject").or_else(|| reference("patient")),
            line,
            last_updated: value["meta"]["lastUpdated"]
                .as_str()
                .and_then(|t| t.parse().ok())
                .unwrap_or(Timestamp::UNIX_EPOCH),
            members: value["member"]
                .as_array()
                .map(|members| {
                    members
                        .iter()
                        .filter_map(|m| m["entity"]["reference"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            history: Vec::new(),
        }
    }

    /// The version stored at `at`: the latest one last updated at or before
    /// it, `None` when the resource did not exist yet.
    pub(crate) fn version_at(&self, at: Timestamp) -> Option<&StoredResource> {
        if self.last_updated <= at {
            return Some(self);
        }
        self.history.iter().rev().find(|v| v.last_updated <= at)
    }

    /// Makes `next` the current version, keeping this one in the history.
    pub(crate) fn replace_with(&mut self, mut next: StoredResource) {
        let mut history = std::mem::take(&mut self.history);
        history.push(self.clone());
        next.history = history;
        *self = next;
    }

    /// This version alone (no history).
    pub(crate) fn snapshot(&self) -> StoredResource {
        StoredResource {
            history: Vec::new(),
            ..self.clone()
        }
    }
}

/// A new resource of `resource_type` made by churn at `at` (references to
/// resources of `content`), `meta` version 1 last updated `at`. Groups are
/// not made by churn.
pub(crate) fn churn_create(
    resource_type: &str,
    rng: &mut ChaCha8Rng,
    at: Timestamp,
    content: &Content,
) -> StoredResource {
    let mut value = match resource_type {
        "Patient" => patient(rng, at),
        "Encounter" => encounter(rng, at, content),
        other => clinical(other, rng, at, content),
    };
    value["meta"] = json!({ "versionId": "1", "lastUpdated": instant(at) });
    stored(value)
}

/// The next version of `current` made by churn at `at`: `meta.versionId`
/// bumped, `meta.lastUpdated` set to `at`, and a field altered (the narrative
/// `text`; an observation's value too). `None` when the stored line is not
/// a JSON object.
pub(crate) fn churn_update(
    current: &StoredResource,
    rng: &mut ChaCha8Rng,
    at: Timestamp,
) -> Option<StoredResource> {
    let mut value: Value = serde_json::from_str(&current.line).ok()?;
    if !value.is_object() {
        return None;
    }
    let version = value["meta"]["versionId"]
        .as_str()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(1)
        + 1;
    if !value["meta"].is_object() {
        value["meta"] = json!({});
    }
    value["meta"]["versionId"] = json!(version.to_string());
    value["meta"]["lastUpdated"] = json!(instant(at));
    let note: u32 = rng.random_range(0..1_000_000);
    value["text"] = json!({
        "status": "generated",
        "div": format!("<div xmlns=\"http://www.w3.org/1999/xhtml\">Revision {version} ({note})</div>")
    });
    if let Some(reading) = value["valueQuantity"]["value"].as_f64() {
        let delta = f64::from(rng.random_range(-50..=50_i32)) / 10.0;
        value["valueQuantity"]["value"] = json!(((reading + delta) * 10.0).round() / 10.0);
    }
    Some(stored(value))
}

/// A FHIR id drawn from `rng`, UUID-shaped.
fn new_id(rng: &mut ChaCha8Rng) -> String {
    uuid::Uuid::from_bytes(rng.random()).to_string()
}

/// An instant up to `max_days` before `anchor`, to the second.
fn before(rng: &mut ChaCha8Rng, anchor: Timestamp, max_days: i64) -> Timestamp {
    let secs = rng.random_range(0..max_days.max(1) * 86_400);
    anchor
        .checked_sub(SignedDuration::from_secs(secs))
        .unwrap_or(anchor)
}

/// FHIR `instant`: UTC with milliseconds.
pub(crate) fn instant(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// FHIR `dateTime` to the second.
fn date_time(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn meta(rng: &mut ChaCha8Rng, created_at: Timestamp) -> Value {
    let last_updated = before(rng, created_at, 30);
    json!({ "versionId": "1", "lastUpdated": instant(last_updated) })
}

fn pick<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

const FAMILY: &[&str] = &[
    "Smith", "Johnson", "Garcia", "Nguyen", "Okafor", "Müller", "Rossi", "Kowalski", "Haddad", "Tanaka",
    "Silva", "Andersen",
];
const GIVEN_FEMALE: &[&str] = &["Maria", "Aisha", "Emma", "Yuki", "Sofia", "Ingrid", "Chloe"];
const GIVEN_MALE: &[&str] = &["James", "Omar", "Liam", "Kenji", "Mateo", "Lars", "Noah"];
const CITIES: &[(&str, &str, &str)] = &[
    ("Boston", "MA", "02118"),
    ("Seattle", "WA", "98101"),
    ("Austin", "TX", "73301"),
    ("Denver", "CO", "80202"),
    ("Madison", "WI", "53703"),
];

fn patient(rng: &mut ChaCha8Rng, created_at: Timestamp) -> Value {
    let id = new_id(rng);
    let meta = meta(rng, created_at);
    let female = rng.random_bool(0.5);
    let given = if female {
        pick(rng, GIVEN_FEMALE)
    } else {
        pick(rng, GIVEN_MALE)
    };
    let family = pick(rng, FAMILY);
    let (city, state, zip) = *pick(rng, CITIES);
    let year = rng.random_range(1935..2020);
    let month = rng.random_range(1..=12);
    let day = rng.random_range(1..=28);
    let mrn = rng.random_range(100_000..1_000_000);
    json!({
        "resourceType": "Patient",
        "id": id,
        "meta": meta,
        "identifier": [{ "system": "urn:hlx:emulator:mrn", "value": format!("MRN-{mrn}") }],
        "active": true,
        "name": [{ "use": "official", "family": family, "given": [given] }],
        "gender": if female { "female" } else { "male" },
        "birthDate": format!("{year:04}-{month:02}-{day:02}"),
        "address": [{ "city": city, "state": state, "postalCode": zip, "country": "US" }]
    })
}

/// A `person` group (`actual: true`) of about half the patients, drawn from `rng`.
fn group(rng: &mut ChaCha8Rng, created_at: Timestamp, content: &Content) -> Value {
    let id = new_id(rng);
    let meta = meta(rng, created_at);
    let patients = content.get("Patient").map(Vec::as_slice).unwrap_or_default();
    let mut members: Vec<Value> = patients
        .iter()
        .filter(|_| rng.random_bool(0.5))
        .map(|p| json!({ "entity": { "reference": format!("Patient/{}", p.id) } }))
        .collect();
    if members.is_empty() && !patients.is_empty() {
        let patient = pick(rng, patients);
        members.push(json!({ "entity": { "reference": format!("Patient/{}", patient.id) } }));
    }
    let n = rng.random_range(1..1000);
    json!({
        "resourceType": "Group",
        "id": id,
        "meta": meta,
        "type": "person",
        "actual": true,
        "name": format!("Cohort {n}"),
        "quantity": members.len(),
        "member": members
    })
}

const ENCOUNTER_TYPES: &[(&str, &str)] = &[
    ("185349003", "Encounter for check up"),
    ("185345009", "Encounter for symptom"),
    ("308335008", "Patient encounter procedure"),
];

fn encounter(rng: &mut ChaCha8Rng, created_at: Timestamp, content: &Content) -> Value {
    let id = new_id(rng);
    let meta = meta(rng, created_at);
    let (code, display) = *pick(rng, ENCOUNTER_TYPES);
    let start = before(rng, created_at, 365);
    let end = start + SignedDuration::from_mins(rng.random_range(15..120));
    let mut value = json!({
        "resourceType": "Encounter",
        "id": id,
        "meta": meta,
        "status": "finished",
        "class": {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
            "code": "AMB",
            "display": "ambulatory"
        },
        "type": [{ "coding": [{ "system": "http://snomed.info/sct", "code": code, "display": display }] }],
        "period": { "start": date_time(start), "end": date_time(end) }
    });
    if let Some(patients) = content.get("Patient").filter(|p| !p.is_empty()) {
        let patient = pick(rng, patients);
        value["subject"] = json!({ "reference": format!("Patient/{}", patient.id) });
    }
    value
}

const OBSERVATIONS: &[(&str, &str, &str, f64, f64)] = &[
    ("8867-4", "Heart rate", "/min", 50.0, 110.0),
    ("9279-1", "Respiratory rate", "/min", 10.0, 24.0),
    ("8310-5", "Body temperature", "Cel", 36.0, 38.5),
    ("29463-7", "Body weight", "kg", 45.0, 120.0),
    ("8302-2", "Body height", "cm", 150.0, 200.0),
];
const CONDITIONS: &[(&str, &str)] = &[
    ("38341003", "Hypertensive disorder"),
    ("44054006", "Diabetes mellitus type 2"),
    ("195967001", "Asthma"),
    ("55822004", "Hyperlipidemia"),
    ("40055000", "Chronic sinusitis"),
];
const PROCEDURES: &[(&str, &str)] = &[
    ("430193006", "Medication reconciliation"),
    ("710824005", "Assessment of health and social care needs"),
    ("73761001", "Colonoscopy"),
];
const MEDICATIONS: &[(&str, &str)] = &[
    ("197361", "Amlodipine 5 MG Oral Tablet"),
    ("860975", "Metformin hydrochloride 500 MG Oral Tablet"),
    ("745679", "Albuterol 0.09 MG/ACTUAT Metered Dose Inhaler"),
];

/// A resource that belongs to an encounter of `pool` and its patient.
fn clinical(
    resource_type: &str,
    rng: &mut ChaCha8Rng,
    created_at: Timestamp,
    pool: &(impl ReferencePool + ?Sized),
) -> Value {
    let id = new_id(rng);
    let meta = meta(rng, created_at);
    let when = date_time(before(rng, created_at, 365));
    let mut value = match resource_type {
        "Observation" => {
            let (code, display, unit, low, high) = *pick(rng, OBSERVATIONS);
            let reading = (rng.random_range(low..high) * 10.0).round() / 10.0;
            json!({
                "status": "final",
                "category": [{ "coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                    "code": "vital-signs",
                    "display": "Vital Signs"
                }] }],
                "code": { "coding": [{ "system": "http://loinc.org", "code": code, "display": display }], "text": display },
                "effectiveDateTime": when,
                "valueQuantity": { "value": reading, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit }
            })
        }
        "Condition" => {
            let (code, display) = *pick(rng, CONDITIONS);
            json!({
                "clinicalStatus": { "coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"
                }] },
                "verificationStatus": { "coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed"
                }] },
                "code": { "coding": [{ "system": "http://snomed.info/sct", "code": code, "display": display }], "text": display },
                "onsetDateTime": when,
                "recordedDate": when
            })
        }
        "Procedure" => {
            let (code, display) = *pick(rng, PROCEDURES);
            json!({
                "status": "completed",
                "code": { "coding": [{ "system": "http://snomed.info/sct", "code": code, "display": display }], "text": display },
                "performedDateTime": when
            })
        }
        _ => {
            let (code, display) = *pick(rng, MEDICATIONS);
            json!({
                "status": "active",
                "intent": "order",
                "medicationCodeableConcept": { "coding": [{
                    "system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": code, "display": display
                }], "text": display },
                "authoredOn": when
            })
        }
    };
    value["resourceType"] = json!(resource_type);
    value["id"] = json!(id);
    value["meta"] = meta;
    // Prefer an encounter (and its patient); fall back to a patient alone.
    // (`rng.random_range(0..n)` is the draw `pick` makes from n items.)
    let encounters = pool.encounter_count();
    let patients = pool.patient_count();
    if encounters > 0 {
        let (encounter, subject) = pool.encounter(rng.random_range(0..encounters));
        value["encounter"] = json!({ "reference": format!("Encounter/{encounter}") });
        if let Some(subject) = subject {
            value["subject"] = json!({ "reference": subject });
        }
    } else if patients > 0 {
        let patient = pool.patient_id(rng.random_range(0..patients));
        value["subject"] = json!({ "reference": format!("Patient/{patient}") });
    }
    if resource_type == "MedicationRequest" {
        // MedicationRequest.subject is required in R4.
        if value.get("subject").is_none() {
            value["subject"] = json!({ "display": "Unknown patient" });
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
        pairs.iter().map(|(t, n)| ((*t).to_owned(), *n)).collect()
    }

    fn at() -> Timestamp {
        Timestamp::from_second(1_767_225_600).unwrap()
    }

    #[test]
    fn same_seed_same_content_and_prefix_stable_per_type() {
        let a = generate(
            7,
            "ds",
            &counts(&[("Patient", 5), ("Encounter", 3)]),
            &BTreeSet::new(),
            at(),
        );
        let b = generate(
            7,
            "ds",
            &counts(&[("Patient", 5), ("Encounter", 3)]),
            &BTreeSet::new(),
            at(),
        );
        assert_eq!(a, b);
        let more = generate(
            7,
            "ds",
            &counts(&[("Patient", 8), ("Encounter", 3)]),
            &BTreeSet::new(),
            at(),
        );
        assert_eq!(a["Patient"][..], more["Patient"][..5]);
        let other = generate(8, "ds", &counts(&[("Patient", 5)]), &BTreeSet::new(), at());
        assert_ne!(a["Patient"], other["Patient"]);
    }

    #[test]
    fn references_point_at_existing_resources() {
        let content = generate(
            1,
            "ds",
            &counts(&[
                ("Patient", 4),
                ("Encounter", 6),
                ("Observation", 20),
                ("Condition", 5),
                ("Procedure", 3),
                ("MedicationRequest", 3),
            ]),
            &BTreeSet::new(),
            at(),
        );
        let ids = |t: &str| -> Vec<String> { content[t].iter().map(|r| r.id.clone()).collect() };
        let patients = ids("Patient");
        let encounters = ids("Encounter");
        for (t, resources) in &content {
            for r in resources {
                let v: Value = serde_json::from_str(&r.line).unwrap();
                assert_eq!(v["resourceType"], json!(t));
                assert_eq!(v["id"], json!(r.id));
                assert!(v["meta"]["lastUpdated"].as_str().unwrap().ends_with('Z'));
                if t != "Patient" {
                    let subject = v["subject"]["reference"].as_str().unwrap();
                    assert!(patients.contains(&subject.trim_start_matches("Patient/").to_owned()));
                }
                if let Some(enc) = v["encounter"]["reference"].as_str() {
                    assert!(encounters.contains(&enc.trim_start_matches("Encounter/").to_owned()));
                }
            }
        }
    }

    #[test]
    fn a_streamed_type_yields_the_lines_the_held_generation_holds() {
        let all = counts(&[
            ("Patient", 4),
            ("Encounter", 6),
            ("Observation", 30),
            ("Procedure", 5),
        ]);
        let held = generate(3, "ds", &all, &BTreeSet::new(), at());
        let streamed: BTreeSet<String> = ["Observation".to_owned(), "Procedure".to_owned()].into();
        let rest = generate(3, "ds", &all, &streamed, at());
        assert!(!rest.contains_key("Observation") && !rest.contains_key("Procedure"));
        assert_eq!(rest["Patient"], held["Patient"]);
        assert_eq!(rest["Encounter"], held["Encounter"]);
        let references = Arc::new(References::of(&rest));
        for t in ["Observation", "Procedure"] {
            let lines: Vec<StoredResource> = stream(3, "ds", t, all[t], at(), references.clone()).collect();
            assert_eq!(lines, held[t], "{t}");
        }
    }

    #[test]
    fn instants_carry_milliseconds() {
        assert_eq!(instant(at()), "2026-01-01T00:00:00.000Z");
    }
}
