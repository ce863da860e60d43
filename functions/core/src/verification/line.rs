//! One NDJSON line of an export judged on its own: a JSON object whose
//! `resourceType` is the type its file holds and whose `id` follows FHIR's
//! rule (`[A-Za-z0-9\-\.]{1,64}`).
//!
//! The line is parsed once with serde_json into the two members it needs;
//! every other member is skipped by the parser but still checked for syntax,
//! so a line with a broken value anywhere is malformed.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::error::Category;

/// The members of a resource the verification reads.
#[derive(Deserialize)]
struct Head<'a> {
    #[serde(rename = "resourceType", borrow, default)]
    resource_type: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
}

/// What one line holds.
#[derive(Debug, PartialEq, Eq)]
pub enum LineCheck<'a> {
    /// A resource with a valid id.
    Resource {
        resource_type: Cow<'a, str>,
        id: Cow<'a, str>,
    },
    /// Not a JSON object, or an object without a string `resourceType`.
    Malformed(String),
    /// A resource whose `id` is missing or breaks FHIR's rule.
    InvalidId {
        resource_type: Cow<'a, str>,
        problem: String,
    },
}

/// Whether `id` follows FHIR R4's rule for a logical id: 1-64 of `A-Z a-z 0-9 - .`.
pub fn is_fhir_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// Judges one line (without its newline).
pub fn check_line(line: &[u8]) -> LineCheck<'_> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return LineCheck::Malformed("empty line".into());
    }
    let first = line.iter().find(|b| !b.is_ascii_whitespace()).copied();
    if first != Some(b'{') {
        return LineCheck::Malformed(match serde_json::from_slice::<serde::de::IgnoredAny>(line) {
            Ok(_) => "JSON, but not an object".into(),
            Err(e) => describe(line, &e),
        });
    }
    let head: Head<'_> = match serde_json::from_slice(line) {
        Ok(head) => head,
        Err(e) => return LineCheck::Malformed(describe(line, &e)),
    };
    let Some(resource_type) = head.resource_type else {
        return LineCheck::Malformed("a JSON object without resourceType".into());
    };
    match head.id {
        None => LineCheck::InvalidId {
            resource_type,
            problem: "no id".into(),
        },
        Some(id) if !is_fhir_id(&id) => LineCheck::InvalidId {
            resource_type,
            problem: format!(
                "id of {} characters breaks [A-Za-z0-9-.]{{1,64}}",
                id.chars().count()
            ),
        },
        Some(id) => LineCheck::Resource { resource_type, id },
    }
}

/// Why a line did not read as a resource; never the line itself (it may hold PHI).
fn describe(line: &[u8], e: &serde_json::Error) -> String {
    let first = line.iter().find(|b| !b.is_ascii_whitespace()).copied();
    match e.classify() {
        Category::Eof => format!("JSON ends early (column {})", e.column()),
        Category::Syntax => format!("not JSON (column {})", e.column()),
        Category::Io => "unreadable".into(),
        Category::Data if first != Some(b'{') => "JSON, but not an object".into(),
        // An object whose resourceType or id is not a string, or is given twice.
        Category::Data => {
            let text = e.to_string();
            if text.contains("duplicate field") {
                "a member given twice (resourceType or id)".into()
            } else {
                "resourceType or id is not a string".into()
            }
        }
    }
}

/// A 64-bit FNV-1a hash of an id: what the duplicate check compares.
///
/// Stable across builds and processes (a verification's children and its
/// fold may run different instances), unlike the standard library's hasher.
pub fn id_hash(id: &str) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    id.bytes()
        .fold(OFFSET, |hash, b| (hash ^ u64::from(b)).wrapping_mul(PRIME))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resource_reads_its_type_and_id() {
        let line = br#"{"resourceType":"Patient","id":"p-1.a","name":[{"family":"X"}],"active":true}"#;
        assert_eq!(
            check_line(line),
            LineCheck::Resource {
                resource_type: "Patient".into(),
                id: "p-1.a".into()
            }
        );
    }

    #[test]
    fn escaped_members_still_read() {
        let line = br#"{"id":"a\u002db","resourceType":"Obs\u0065rvation"}"#;
        assert_eq!(
            check_line(line),
            LineCheck::Resource {
                resource_type: "Observation".into(),
                id: "a-b".into()
            }
        );
    }

    #[test]
    fn broken_lines_say_why_without_quoting_them() {
        let cases: [(&[u8], &str); 7] = [
            (
                br#"{"resourceType":"Patient","id":"p1","name":[{"fam"#,
                "JSON ends early",
            ),
            (b"not json at all", "not JSON"),
            (br#"{"resourceType":"Patient","id":"p1",}"#, "not JSON"),
            (br#"["resourceType"]"#, "not an object"),
            (br#"{"id":"p1"}"#, "without resourceType"),
            (
                br#"{"resourceType":"Patient","resourceType":"Patient","id":"p1"}"#,
                "given twice",
            ),
            (b"   ", "empty line"),
        ];
        for (line, want) in cases {
            match check_line(line) {
                LineCheck::Malformed(why) => {
                    assert!(why.contains(want), "{:?}: {why}", String::from_utf8_lossy(line));
                    assert!(
                        !why.contains("Patient"),
                        "the reason must not quote the line: {why}"
                    );
                }
                other => panic!("{:?} read as {other:?}", String::from_utf8_lossy(line)),
            }
        }
    }

    #[test]
    fn ids_follow_fhir() {
        assert!(is_fhir_id("A-z.0"));
        assert!(is_fhir_id(&"a".repeat(64)));
        assert!(!is_fhir_id(&"a".repeat(65)));
        assert!(!is_fhir_id(""));
        assert!(!is_fhir_id("a_b"));
        assert!(!is_fhir_id("a/b"));
        let bad = check_line(br#"{"resourceType":"Patient","id":"a b"}"#);
        assert!(matches!(bad, LineCheck::InvalidId { .. }), "{bad:?}");
        let missing = check_line(br#"{"resourceType":"Patient"}"#);
        assert!(matches!(missing, LineCheck::InvalidId { ref problem, .. } if problem == "no id"));
        let number = check_line(br#"{"resourceType":"Patient","id":5}"#);
        assert!(
            matches!(number, LineCheck::Malformed(ref why) if why.contains("not a string")),
            "{number:?}"
        );
    }

    #[test]
    fn id_hashes_are_stable_and_differ() {
        // FNV-1a's published test vector.
        assert_eq!(id_hash("a"), 0xaf63_dc4c_8601_ec8c);
        assert_ne!(id_hash("p1"), id_hash("p2"));
    }
}
