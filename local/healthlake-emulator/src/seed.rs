//! Everything random is derived from the one seed, by name.

use sha2::{Digest, Sha256};

/// 32 bytes for a named stream of `seed`.
pub(crate) fn derive_seed(seed: u64, parts: &[&str]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(b"hlx-healthlake-emulator");
    hasher.update(seed.to_be_bytes());
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    hasher.finalize().into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A 32-character lowercase hex id, as HealthLake's data store and job ids are.
pub(crate) fn hex_id(seed: u64, what: &str, n: u64) -> String {
    hex(&derive_seed(seed, &[what, &n.to_string()])[..16])
}

/// A UUID-shaped request id.
pub(crate) fn request_id(seed: u64, n: u64) -> String {
    let h = hex(&derive_seed(seed, &["request", &n.to_string()])[..16]);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// A version-4-shaped UUID (`xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx`) for
/// the `n`th item of a named stream of `seed`.
pub(crate) fn uuid(seed: u64, what: &str, n: u64) -> String {
    let mut bytes: [u8; 16] = derive_seed(seed, &["uuid", what, &n.to_string()])[..16]
        .try_into()
        .expect("16 bytes");
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let h = hex(&bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_32_hex_and_depend_on_every_input() {
        let id = hex_id(1, "job", 0);
        assert_eq!(id.len(), 32);
        assert!(
            id.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_eq!(id, hex_id(1, "job", 0));
        assert_ne!(id, hex_id(2, "job", 0));
        assert_ne!(id, hex_id(1, "job", 1));
        assert_ne!(id, hex_id(1, "datastore", 0));
        assert_eq!(request_id(1, 5).len(), 36);
    }

    #[test]
    fn uuids_are_version_4_shaped_and_seeded() {
        let id = uuid(1, "event", 0);
        let shape =
            regex::Regex::new("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
                .unwrap();
        for n in 0..50 {
            assert!(shape.is_match(&uuid(1, "event", n)), "{}", uuid(1, "event", n));
        }
        assert_eq!(id, uuid(1, "event", 0));
        assert_ne!(id, uuid(2, "event", 0));
        assert_ne!(id, uuid(1, "event", 1));
    }
}
