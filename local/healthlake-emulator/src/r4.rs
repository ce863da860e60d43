//! FHIR R4's vocabulary, hlx-core's (`hlx_core::fhir`): FHIR's own lists
//! and rules, not HealthLake's API constraints (those come from the
//! vendored service model).

pub use hlx_core::fhir::{ID_PATTERN, R4_RESOURCE_TYPES, is_resource_type, is_valid_id};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SUPPORTED_RESOURCE_TYPES;

    #[test]
    fn the_list_is_r4s_146_types_sorted_and_holds_the_generators() {
        assert_eq!(R4_RESOURCE_TYPES.len(), 146);
        assert!(
            R4_RESOURCE_TYPES.windows(2).all(|w| w[0] < w[1]),
            "sorted and unique (binary search relies on it)"
        );
        for t in SUPPORTED_RESOURCE_TYPES {
            assert!(is_resource_type(t), "{t}");
        }
        assert!(is_resource_type("OperationOutcome"));
        assert!(!is_resource_type("patient"));
        assert!(!is_resource_type("Resource"), "abstract");
        assert!(!is_resource_type("DomainResource"), "abstract");
    }

    #[test]
    fn ids_follow_the_fhir_rule() {
        for good in ["a", "Patient-1", "1.2.840", &"x".repeat(64), "0f3e-AB.c"] {
            assert!(is_valid_id(good), "{good}");
        }
        for bad in ["", "a b", "a_b", "a/b", &"x".repeat(65), "é", "a\n"] {
            assert!(!is_valid_id(bad), "{bad:?}");
        }
    }
}
