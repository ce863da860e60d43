//! Everything random is derived from the one seed, by name.

use sha2::{Digest, Sha256};
use uuid::Uuid;

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

/// A 32-character lowercase hex id, as HealthLake's data store and job ids are.
pub(crate) fn hex_id(seed: u64, what: &str, n: u64) -> String {
    hex::encode(&derive_seed(seed, &[what, &n.to_string()])[..16])
}

/// A UUID-shaped request id.
pub(crate) fn request_id(seed: u64, n: u64) -> String {
    Uuid::from_bytes(first_16(derive_seed(seed, &["request", &n.to_string()]))).to_string()
}

/// A version-4-shaped UUID (`xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx`) for
/// the `n`th item of a named stream of `seed`.
pub(crate) fn uuid(seed: u64, what: &str, n: u64) -> String {
    // The version (4) and variant bits set over the derived bytes.
    uuid::Builder::from_random_bytes(first_16(derive_seed(seed, &["uuid", what, &n.to_string()])))
        .into_uuid()
        .to_string()
}

fn first_16(bytes: [u8; 32]) -> [u8; 16] {
    bytes[..16].try_into().expect("16 of 32 bytes")
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
        // Seeded runs repeat exactly: pinned.
        assert_eq!(id, "02ff4ca4b44ee2530cbed8547c92cc86");
        assert_eq!(request_id(1, 5), "600626e5-90d2-e8a6-2678-4ef8f30aa9ad");
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
        assert_eq!(id, "e5c45407-037f-42c2-9a28-10def4e6c4fa");
        assert_ne!(id, uuid(2, "event", 0));
        assert_ne!(id, uuid(1, "event", 1));
    }
}
