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
}
