//! hlx-core's HealthLake field rules held against HealthLake's Smithy model,
//! as the emulator enforces it ([`ServiceModel`]).
//!
//! For every member a rule of `hlx_core::validation` stands for: the model's
//! length range and pattern are the rule's, and values at and around the
//! model's limits, with every kind of character in every part of the value,
//! get the same verdict from both. hlx-core may only be stricter where
//! [`STRICTER`] says why.

use hlx_core::fields::{derived_job_name, unique_job_name};
use hlx_core::request::client_token_for;
use hlx_core::validation::{
    CLIENT_TOKEN, DATA_ACCESS_ROLE_ARN, DATASTORE_ID, FieldRule, JOB_ID, JOB_NAME, KMS_KEY_ID, S3_URI,
};
use hlx_healthlake_emulator::{ErrorKind, ServiceModel};
use serde_json::{Map, Value, json};

const ROLE: &str = "arn:aws:iam::123456789012:role/r";

/// One hlx-core rule, the input members it checks values for, and how to
/// build values: `templates` each hold one `{}` where a probe character
/// goes; `long` makes a valid value of `n` characters.
struct Field {
    name: &'static str,
    rule: &'static FieldRule,
    members: &'static [(&'static str, &'static str)],
    templates: &'static [&'static str],
    long: fn(usize) -> String,
}

/// `prefix` then `fill` up to `n` characters (or `prefix` cut to `n`).
fn repeat_after(prefix: &str, fill: char, n: usize) -> String {
    prefix.chars().chain(std::iter::repeat(fill)).take(n).collect()
}

const FIELDS: &[Field] = &[
    Field {
        name: "DATASTORE_ID",
        rule: &DATASTORE_ID,
        members: &[
            ("StartFHIRExportJob", "DatastoreId"),
            ("StartFHIRImportJob", "DatastoreId"),
            ("DescribeFHIRExportJob", "DatastoreId"),
            ("DescribeFHIRImportJob", "DatastoreId"),
            ("ListFHIRExportJobs", "DatastoreId"),
            ("ListFHIRImportJobs", "DatastoreId"),
            ("DescribeFHIRDatastore", "DatastoreId"),
        ],
        templates: &["{}", "d{}", "{}d", "d{}d"],
        long: |n| "d".repeat(n),
    },
    Field {
        name: "JOB_ID",
        rule: &JOB_ID,
        members: &[
            ("DescribeFHIRExportJob", "JobId"),
            ("DescribeFHIRImportJob", "JobId"),
        ],
        templates: &["{}", "j{}", "{}j"],
        long: |n| "j".repeat(n),
    },
    Field {
        name: "JOB_NAME",
        rule: &JOB_NAME,
        members: &[
            ("StartFHIRExportJob", "JobName"),
            ("StartFHIRImportJob", "JobName"),
            ("ListFHIRExportJobs", "JobName"),
        ],
        templates: &["{}", "n{}", "{}n", "nightly {}1"],
        long: |n| "n".repeat(n),
    },
    Field {
        name: "CLIENT_TOKEN",
        rule: &CLIENT_TOKEN,
        members: &[
            ("StartFHIRExportJob", "ClientToken"),
            ("StartFHIRImportJob", "ClientToken"),
        ],
        templates: &["{}", "t{}", "{}t", "hlx-{}0a"],
        long: |n| "t".repeat(n),
    },
    Field {
        name: "S3_URI",
        rule: &S3_URI,
        members: &[
            ("StartFHIRExportJob", "OutputDataConfig.S3Configuration.S3Uri"),
            ("StartFHIRImportJob", "InputDataConfig.S3Uri"),
            ("StartFHIRImportJob", "JobOutputDataConfig.S3Configuration.S3Uri"),
        ],
        templates: &[
            "{}s3://bucket/x",
            "s3:/{}/bucket/x",
            "s3://{}bucket/x",
            "s3://bu{}cket/x",
            "s3://bucket{}/x",
            "s3://bucket{}",
            "s3://bucket/{}",
            "s3://bucket/x{}y",
            "s3://b{}",
        ],
        long: |n| repeat_after("s3://bucket/", 'k', n),
    },
    Field {
        name: "KMS_KEY_ID",
        rule: &KMS_KEY_ID,
        members: &[
            ("StartFHIRExportJob", "OutputDataConfig.S3Configuration.KmsKeyId"),
            (
                "StartFHIRImportJob",
                "JobOutputDataConfig.S3Configuration.KmsKeyId",
            ),
        ],
        templates: &[
            "{}",
            "{}k",
            "k{}",
            "key/{}",
            "alias/{}",
            "alias/a{}b",
            "{}alias/a",
            "arn:aws{}:kms:us-east-1:123456789012:key/k",
            "arn:aws:kms:us-east-{}:123456789012:key/k",
            "arn:aws:kms:u{}-east-1:123456789012:key/k",
            "arn:aws:kms:us-east-1:12345678901{}:key/k",
            "arn:aws:kms:us-east-1:123456789012:key/{}",
            "arn:aws:kms:eu-west-1:123456789012:alias/{}",
            "us-east-{}:alias/a",
            "12345678901{}:key/k",
        ],
        long: |n| "k".repeat(n),
    },
    Field {
        name: "DATA_ACCESS_ROLE_ARN",
        rule: &DATA_ACCESS_ROLE_ARN,
        members: &[
            ("StartFHIRExportJob", "DataAccessRoleArn"),
            ("StartFHIRImportJob", "DataAccessRoleArn"),
        ],
        templates: &[
            "{}arn:aws:iam::123456789012:role/r",
            "arn:aws{}:iam::123456789012:role/r",
            "arn:aws-{}:iam::123456789012:role/r",
            "arn:aws-us-gov{}:iam::123456789012:role/r",
            "arn:aws:iam:{}:123456789012:role/r",
            "arn:aws:iam::12345678901{}:role/r",
            "arn:aws:iam::123456789012:role{}/r",
            "arn:aws:iam::123456789012:role/{}",
            "arn:aws:iam::123456789012:role/r{}",
            "arn:aws:iam::123456789012:role/path/{}/r",
        ],
        long: |n| repeat_after("arn:aws:iam::123456789012:role/", 'r', n),
    },
];

/// Where hlx-core is stricter than the model, and why that is fine.
const STRICTER: &[(&str, &str)] = &[(
    "S3_URI min_length",
    "the model allows 0 characters, but its pattern needs `s3://` and a 3-character bucket, \
     so no value shorter than 8 characters passes either way",
)];

/// Every kind of character: all of printable ASCII, controls, Unicode
/// letters, marks, numbers, separators and symbols, and a surrogate pair.
fn probe_characters() -> Vec<String> {
    let mut probes: Vec<String> = (' '..='~').map(String::from).collect();
    for special in [
        "\t",
        "\n",
        "\r",
        "\u{0}",
        "\u{7f}",
        "\u{85}", // controls
        "\u{a0}",
        "\u{2003}",
        "\u{3000}",
        "\u{2028}",
        "\u{2029}", // separators
        "é",
        "ß",
        "中",
        "Ａ",
        "ǅ",
        "ʰ", // letters (Ll, Lo, fullwidth Lu, Lt, Lm)
        "\u{301}",
        "e\u{301}",
        "\u{93f}",
        "क\u{93f}",
        "\u{20dd}", // marks (Mn, Mc, Me)
        "٣",
        "१",
        "Ⅻ",
        "½",
        "²", // numbers (Nd, Nl, No)
        "Ⓐ",
        "😀",
        "€",
        "©",
        "\u{200b}",
        "\u{feff}",
        "\u{e000}", // symbols, format, private use
    ] {
        probes.push(special.to_owned());
    }
    probes
}

/// A request for `operation` that passes validation.
fn valid_request(operation: &str) -> Value {
    let output = json!({ "S3Configuration": { "S3Uri": "s3://bucket/out", "KmsKeyId": "alias/k" } });
    match operation {
        "StartFHIRExportJob" => json!({
            "DatastoreId": "ds1", "OutputDataConfig": output, "DataAccessRoleArn": ROLE,
        }),
        "StartFHIRImportJob" => json!({
            "DatastoreId": "ds1",
            "InputDataConfig": { "S3Uri": "s3://bucket/in" },
            "JobOutputDataConfig": output,
            "DataAccessRoleArn": ROLE,
        }),
        "DescribeFHIRExportJob" | "DescribeFHIRImportJob" => json!({ "DatastoreId": "ds1", "JobId": "j1" }),
        "ListFHIRExportJobs" | "ListFHIRImportJobs" | "DescribeFHIRDatastore" => {
            json!({ "DatastoreId": "ds1" })
        }
        other => panic!("no valid request for {other}"),
    }
}

fn with_member(mut request: Value, path: &str, value: &str) -> Map<String, Value> {
    let (parents, last) = path.rsplit_once('.').map_or((None, path), |(p, l)| (Some(p), l));
    let mut node = &mut request;
    for name in parents.into_iter().flat_map(|p| p.split('.')) {
        node = &mut node[name];
    }
    node[last] = json!(value);
    request.as_object().cloned().expect("a request is an object")
}

fn lower_camel_path(path: &str) -> String {
    path.split('.')
        .map(|m| {
            let mut chars = m.chars();
            chars
                .next()
                .map(|c| c.to_lowercase().chain(chars).collect::<String>())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// Whether the model takes `value` for the member at `path` of `operation`.
fn model_accepts(operation: &str, path: &str, value: &str) -> bool {
    let request = with_member(valid_request(operation), path, value);
    match ServiceModel::healthlake().check_input(operation, &request) {
        Ok(()) => true,
        Err(e) => {
            assert_eq!(e.kind, ErrorKind::Validation, "{operation} {path}={value:?}: {e}");
            let at = format!("at '{}' failed", lower_camel_path(path));
            assert!(
                e.message.contains(&at),
                "{operation} {path}={value:?}: {}",
                e.message
            );
            false
        }
    }
}

fn samples(field: &Field, min: usize, max: usize) -> Vec<String> {
    let mut values: Vec<String> = [0, 1, min.saturating_sub(1), min, min + 1, max - 1, max, max + 1]
        .into_iter()
        .map(field.long)
        .collect();
    for probe in probe_characters() {
        for template in field.templates {
            values.push(template.replace("{}", &probe));
        }
    }
    values.sort();
    values.dedup();
    values
}

#[test]
fn hlx_core_rules_state_the_models_limits_and_patterns() {
    let mut differences = Vec::new();
    for field in FIELDS {
        for (operation, path) in field.members {
            let model = ServiceModel::healthlake()
                .string_constraints(operation, path)
                .unwrap_or_else(|| panic!("the model has no string member {operation}.{path}"));
            let core = (
                field.rule.min_chars as u64,
                field.rule.max_chars as u64,
                field.rule.pattern,
            );
            if model.min_length != Some(core.0) {
                differences.push(format!("{} min_length", field.name));
            }
            if model.max_length != Some(core.1) {
                differences.push(format!("{} max_length", field.name));
            }
            if model.pattern.as_deref() != Some(core.2) {
                differences.push(format!(
                    "{} pattern: model {:?}, hlx-core {:?}",
                    field.name, model.pattern, core.2
                ));
            }
        }
    }
    differences.sort();
    differences.dedup();
    let unexplained: Vec<_> = differences
        .iter()
        .filter(|d| !STRICTER.iter().any(|(what, _)| d == what))
        .collect();
    assert!(
        unexplained.is_empty(),
        "hlx-core differs from the model: {unexplained:#?}"
    );
    // Every documented difference is still one (so the list stays true).
    for (what, why) in STRICTER {
        assert!(
            differences.iter().any(|d| d == what),
            "{what} no longer differs ({why})"
        );
    }
}

#[test]
fn hlx_core_rules_give_the_models_verdicts() {
    let mut disagreements = Vec::new();
    let mut checked = 0;
    for field in FIELDS {
        let model = ServiceModel::healthlake()
            .string_constraints(field.members[0].0, field.members[0].1)
            .expect("a string member");
        let min = model.min_length.unwrap_or(0) as usize;
        let max = model.max_length.expect("a maximum length") as usize;
        for value in samples(field, min, max) {
            let core = field.rule.check("field", &value).is_ok();
            for (operation, path) in field.members {
                checked += 1;
                let model = model_accepts(operation, path, &value);
                if core != model {
                    let (yes, no) = if model {
                        ("the model", "hlx-core")
                    } else {
                        ("hlx-core", "the model")
                    };
                    disagreements.push(format!(
                        "{} ({operation}.{path}) {value:?}: {yes} accepts, {no} refuses",
                        field.name
                    ));
                }
            }
        }
    }
    assert!(checked > 5000, "only {checked} checks");
    assert!(
        disagreements.is_empty(),
        "{} disagreements, the first ones: {:#?}",
        disagreements.len(),
        &disagreements[..disagreements.len().min(20)]
    );
}

/// The names and tokens hlx makes up itself are ones the model takes.
#[test]
fn generated_job_names_and_client_tokens_pass_the_model() {
    let execution_names = [
        "nightly-ds1-2026-11-24",
        "a#b c",
        "",
        "ünïcødé",
        "क\u{93f}", // a letter and a spacing mark
        "e\u{301}", // a combining acute
        "Ⓐ Ⅻ ½",    // alphabetic and numeric symbols
        "😀 emoji",
        "tab\tand\nnewline",
    ];
    let long = "x".repeat(100);
    let long_marks = "क\u{93f}".repeat(40);
    for execution_name in execution_names
        .into_iter()
        .chain([long.as_str(), long_marks.as_str()])
    {
        let names = [
            derived_job_name(execution_name, "hlx-job"),
            unique_job_name(None, execution_name),
            unique_job_name(Some("weekly full"), execution_name),
        ];
        for name in names {
            assert!(
                model_accepts("StartFHIRExportJob", "JobName", &name),
                "{execution_name:?} gives job name {name:?}"
            );
        }
        let token = client_token_for(execution_name);
        assert!(
            model_accepts("StartFHIRExportJob", "ClientToken", &token),
            "{execution_name:?} gives token {token:?}"
        );
    }
}
