//! Deterministic execution names: the same POST always names the same
//! execution, so a retry can never start a second export (or import).
//!
//! - With an `Idempotency-Key`: `api-k-<40 hex of SHA-256(key)>` for an
//!   export, `api-import-k-<...>` for an import. The name depends on the kind
//!   and the key alone, so reusing a key with any other request of its kind
//!   (another data store included) meets the first execution and is a
//!   conflict; an export and an import may use the same key.
//! - Without one: `api-<data store>-<yyyymmdd>-<24 hex of SHA-256(day, input)>`
//!   (`api-import-<data store>-...` for an import), so the same request on the
//!   same UTC day is the same export (or import).
//!
//! Step Functions names are 1-80 characters and may not contain whitespace,
//! `<>{}[]?*"#%\^|~`$&,;:/` or control characters; these use only ASCII
//! letters, digits, `-` and `_`, and are at most 70 characters long for an
//! export, 77 for an import.

use hlx_core::JobKind;
use jiff::Timestamp;
use sha2::{Digest, Sha256};

/// The header that makes a POST idempotent across days.
pub const IDEMPOTENCY_KEY_HEADER: &str = "Idempotency-Key";
/// The longest idempotency key.
pub const MAX_KEY_CHARS: usize = 64;
/// The longest Step Functions execution name.
pub const MAX_EXECUTION_NAME: usize = 80;
/// How many characters of the data store id a key-less name keeps.
const DATASTORE_CHARS: usize = 32;

/// Checks an `Idempotency-Key`: 1-64 characters of `[A-Za-z0-9_-]`.
pub fn check_idempotency_key(key: &str) -> Result<(), String> {
    let chars = key.chars().count();
    if chars == 0 || chars > MAX_KEY_CHARS {
        return Err(format!(
            "must be between 1 and {MAX_KEY_CHARS} characters long, got {chars}"
        ));
    }
    if !key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err("must contain only ASCII letters, digits, '-' and '_'".into());
    }
    Ok(())
}

/// How the names the API gives a kind's executions begin: `api` for exports
/// (as before imports existed), `api-import` for imports.
pub fn name_prefix(kind: JobKind) -> &'static str {
    match kind {
        JobKind::Export => "api",
        JobKind::Import => "api-import",
    }
}

/// The execution name for a POST with an idempotency key.
pub fn name_for_key(kind: JobKind, key: &str) -> String {
    format!("{}-k-{}", name_prefix(kind), sha256_hex(key.as_bytes(), 20))
}

/// The execution name for a POST without a key: the request (as the execution
/// input) and the UTC day of `now`.
pub fn name_for_request(kind: JobKind, datastore_id: &str, input: &str, now: Timestamp) -> String {
    let day = now.strftime("%Y%m%d").to_string();
    let safe: String = datastore_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(DATASTORE_CHARS)
        .collect();
    let mut hashed = day.clone().into_bytes();
    hashed.push(b'\n');
    hashed.extend_from_slice(input.as_bytes());
    format!("{}-{safe}-{day}-{}", name_prefix(kind), sha256_hex(&hashed, 12))
}

/// Whether `id` could be an execution name at all (anything else is unknown
/// without asking Step Functions).
pub fn is_possible_execution_name(id: &str) -> bool {
    let chars = id.chars().count();
    (1..=MAX_EXECUTION_NAME).contains(&chars)
        && id
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && !"<>{}[]?*\"#%\\^|~`$&,;:/".contains(c))
}

/// The first `len` bytes of the SHA-256 of `bytes`, in lowercase hex.
fn sha256_hex(bytes: &[u8], len: usize) -> String {
    hex::encode(&Sha256::digest(bytes)[..len])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ts: &str) -> Timestamp {
        ts.parse().unwrap()
    }

    #[test]
    fn keys_are_1_to_64_url_safe_characters() {
        assert!(check_idempotency_key("a").is_ok());
        assert!(check_idempotency_key(&"a-_9".repeat(16)).is_ok());
        assert!(check_idempotency_key("").unwrap_err().contains("got 0"));
        assert!(
            check_idempotency_key(&"a".repeat(65))
                .unwrap_err()
                .contains("got 65")
        );
        for bad in ["a b", "a/b", "é", "a:b", "a.b"] {
            assert!(check_idempotency_key(bad).unwrap_err().contains("ASCII"), "{bad}");
        }
    }

    const EXPORT: JobKind = JobKind::Export;
    const IMPORT: JobKind = JobKind::Import;

    #[test]
    fn key_names_depend_on_the_kind_and_the_key_only() {
        let a = name_for_key(EXPORT, "order-42");
        assert_eq!(a, name_for_key(EXPORT, "order-42"));
        assert_ne!(a, name_for_key(EXPORT, "order-43"));
        // Names are persisted (a retried POST finds its execution by it): pinned.
        assert_eq!(a, "api-k-3bf8b157c4238eefe5ae4a66eca81c6b887d4dce");
        assert!(is_possible_execution_name(&a));
        // The same key names an import apart from the export.
        let import = name_for_key(IMPORT, "order-42");
        assert_eq!(import, format!("api-import-{}", &a["api-".len()..]));
        assert_eq!(import.len(), 53);
        assert!(is_possible_execution_name(&import));
    }

    #[test]
    fn request_names_change_with_the_day_and_the_input() {
        let input = r#"{"datastoreId":"ds1"}"#;
        let monday = name_for_request(EXPORT, "ds1", input, at("2026-11-23T00:00:00Z"));
        assert_eq!(
            monday,
            name_for_request(EXPORT, "ds1", input, at("2026-11-23T23:59:59Z"))
        );
        assert_eq!(monday, "api-ds1-20261123-a31ff473200c5e6c243d8d48");
        assert_ne!(
            monday,
            name_for_request(EXPORT, "ds1", input, at("2026-11-24T00:00:00Z"))
        );
        assert_ne!(
            monday,
            name_for_request(
                EXPORT,
                "ds1",
                r#"{"datastoreId":"ds2"}"#,
                at("2026-11-23T00:00:00Z")
            )
        );
        let import = name_for_request(IMPORT, "ds1", input, at("2026-11-23T00:00:00Z"));
        assert_eq!(import, format!("api-import-{}", &monday["api-".len()..]));
    }

    #[test]
    fn request_names_are_valid_for_any_data_store_id() {
        let now = at("2026-11-23T10:00:00Z");
        for datastore_id in [
            "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6",
            "ds 1:/=+%@",
            "é",
            &"x".repeat(32),
        ] {
            for (kind, longest) in [(EXPORT, 70), (IMPORT, 77)] {
                let name = name_for_request(kind, datastore_id, "{}", now);
                assert!(name.len() <= longest, "{name}");
                assert!(
                    name.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
                    "{name}"
                );
                assert!(is_possible_execution_name(&name));
            }
        }
        assert!(name_for_request(EXPORT, "ds 1:/", "{}", now).starts_with("api-ds-1---20261123-"));
    }

    #[test]
    fn impossible_names_are_recognised() {
        for bad in ["", "a b", "a:b", "a/b", "a#b", "tab\t", &"x".repeat(81)] {
            assert!(!is_possible_execution_name(bad), "{bad:?}");
        }
        assert!(is_possible_execution_name("nightly-ds1-2026-11-24"));
        assert!(is_possible_execution_name(&"x".repeat(80)));
    }
}
