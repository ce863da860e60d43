//! HealthLake's field rules, shared by the Lambdas and the HealthLake emulator.
//!
//! Every rule is the one of the HealthLake Smithy model (2017-07-01): a length
//! range counted in characters and a pattern. A failure names the field and the
//! rule it broke, so a user can fix the input without reading the model.
//!
//! The emulator checks requests against the model itself (a vendored copy,
//! `local/healthlake-emulator/model/healthlake.json`), and its test
//! `core_rules` holds these rules against that model: same limits, same
//! patterns, same verdicts on values around the limits.

use std::sync::LazyLock;

use regex::Regex;

/// A value that breaks one of HealthLake's field rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {rule}")]
pub struct FieldError {
    /// The field as the caller names it (`datastoreId` in hlx input, `DatastoreId` on the wire).
    pub field: String,
    /// What the value must be, and what was wrong with it.
    pub rule: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, rule: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            rule: rule.into(),
        }
    }

    pub fn missing(field: impl Into<String>) -> Self {
        Self::new(field, "is required")
    }
}

/// One field's length range and pattern.
#[derive(Debug)]
pub struct FieldRule {
    pub min_chars: usize,
    pub max_chars: usize,
    pub pattern: &'static str,
    regex: LazyLock<Regex>,
}

macro_rules! field_rule {
    ($name:ident, $min:expr, $max:expr, $pattern:literal, $doc:literal) => {
        #[doc = $doc]
        pub static $name: FieldRule = FieldRule {
            min_chars: $min,
            max_chars: $max,
            pattern: $pattern,
            regex: LazyLock::new(|| Regex::new(&ecma_262($pattern)).expect("field pattern compiles")),
        };
    };
}

field_rule!(
    DATASTORE_ID,
    1,
    32,
    r"^([\p{L}\p{Z}\p{N}_.:/=+\-%@]*)$",
    "`DatastoreId`: 1-32 characters of letters, numbers, spaces and `_.:/=+-%@`."
);
field_rule!(
    JOB_ID,
    1,
    32,
    r"^([\p{L}\p{Z}\p{N}_.:/=+\-%@]*)$",
    "`JobId`: 1-32 characters of letters, numbers, spaces and `_.:/=+-%@`."
);
field_rule!(
    JOB_NAME,
    1,
    64,
    r"^([\p{L}\p{Z}\p{N}_.:/=+\-%@]*)$",
    "`JobName`: 1-64 characters of letters, numbers, spaces and `_.:/=+-%@`."
);
field_rule!(
    CLIENT_TOKEN,
    1,
    64,
    r"^[a-zA-Z0-9-]+$",
    "`ClientToken`: 1-64 characters of ASCII letters, digits and `-`."
);
field_rule!(
    S3_URI,
    1,
    1024,
    r"^s3://[a-z0-9][\.\-a-z0-9]{1,61}[a-z0-9](/.*)?$",
    "`S3Uri`: at most 1024 characters, `s3://` then a bucket name, then an optional key prefix."
);
field_rule!(
    KMS_KEY_ID,
    1,
    400,
    r"^(arn:aws((-us-gov)|(-iso)|(-iso-b)|(-cn))?:kms:)?([a-z]{2}-[a-z]+(-[a-z]+)?-\d:)?(\d{12}:)?(((key/)?[a-zA-Z0-9-_]+)|(alias/[a-zA-Z0-9:/_-]+))$",
    "`KmsKeyId`: 1-400 characters, a KMS key id, key ARN, alias name or alias ARN."
);
field_rule!(
    DATA_ACCESS_ROLE_ARN,
    20,
    2048,
    r"^arn:aws(-[^:]+)?:iam::[0-9]{12}:role/.+$",
    "`DataAccessRoleArn`: 20-2048 characters, an IAM role ARN `arn:aws:iam::<12 digits>:role/<name>`."
);

/// A data store id hlx will use: HealthLake's rule ([`DATASTORE_ID`]), and
/// one path segment. HealthLake generates data store ids (32 hex
/// characters); one holding a `/`, or only dots, can name no data store, and
/// would change the path of a FHIR REST URL or of an ARN. (Such ids are
/// percent-encoded in URLs anyway; this refuses them before anything starts.)
pub fn check_datastore_id(field: &str, value: &str) -> Result<(), FieldError> {
    DATASTORE_ID.check(field, value)?;
    if value.contains('/') || value.chars().all(|c| c == '.') {
        return Err(FieldError::new(
            field,
            format!(
                "must be a HealthLake data store id (one path segment, no '/'; HealthLake's are 32 hex characters), got {value:?}"
            ),
        ));
    }
    Ok(())
}

/// `pattern` (ECMA-262, as the model's patterns are) in the regex crate's
/// syntax. The two read the model's patterns alike but for two the regex
/// crate takes more widely: `\d` is any Unicode digit there (ASCII digits in
/// ECMA-262), and `.` takes `\r`, U+2028 and U+2029 too (line terminators,
/// where ECMA-262's `.` stops as at `\n`). Read as the regex crate reads
/// them, the rules took what HealthLake refuses (a region `us-east-\u{663}`,
/// a carriage return in an S3 key or a role name).
fn ecma_262(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut in_class = false;
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('d') => out.push_str("[0-9]"),
                Some(escaped) => {
                    out.push('\\');
                    out.push(escaped);
                }
                None => out.push('\\'),
            },
            '[' => {
                in_class = true;
                out.push('[');
            }
            ']' => {
                in_class = false;
                out.push(']');
            }
            '.' if !in_class => out.push_str(r"[^\n\r\u{2028}\u{2029}]"),
            other => out.push(other),
        }
    }
    out
}

impl FieldRule {
    /// Checks `value` for the field called `field`.
    pub fn check(&self, field: &str, value: &str) -> Result<(), FieldError> {
        let chars = value.chars().count();
        if chars < self.min_chars || chars > self.max_chars {
            let range = if self.min_chars == self.max_chars {
                format!("exactly {}", self.min_chars)
            } else {
                format!("between {} and {}", self.min_chars, self.max_chars)
            };
            return Err(FieldError::new(
                field,
                format!("must be {range} characters long, got {chars}"),
            ));
        }
        if !self.regex.is_match(value) {
            return Err(FieldError::new(
                field,
                format!("must match the pattern {}", self.pattern),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_store_ids_are_one_path_segment() {
        assert!(check_datastore_id("datastoreId", "eeb8005725ae22b35b4edbdc68cf2dfd").is_ok());
        for hostile in ["../../../x", "x/r4/Patient", "..", ".", "a/b"] {
            let err = check_datastore_id("datastoreId", hostile).unwrap_err();
            assert_eq!(err.field, "datastoreId", "{hostile}");
        }
        // HealthLake's own rule still applies first.
        assert!(
            check_datastore_id("datastoreId", "semi;colon")
                .unwrap_err()
                .rule
                .contains("pattern")
        );
    }

    fn ok(rule: &FieldRule, value: &str) {
        assert_eq!(rule.check("f", value), Ok(()), "{value:?} should pass");
    }

    fn bad(rule: &FieldRule, value: &str, rule_text: &str) {
        let err = rule.check("theField", value).expect_err(value);
        assert_eq!(err.field, "theField");
        assert!(
            err.rule.contains(rule_text),
            "{value:?}: {} should mention {rule_text}",
            err.rule
        );
    }

    #[test]
    fn ids_are_1_to_32_characters() {
        for rule in [&DATASTORE_ID, &JOB_ID] {
            bad(rule, "", "between 1 and 32 characters long, got 0");
            ok(rule, "a");
            ok(rule, &"a".repeat(32));
            bad(rule, &"a".repeat(33), "got 33");
            // Characters, not bytes: 32 two-byte letters fit.
            ok(rule, &"é".repeat(32));
            ok(rule, "ds 1_.:/=+-%@");
            bad(rule, "semi;colon", "pattern");
            bad(rule, "tab\there", "pattern");
        }
    }

    #[test]
    fn job_name_is_1_to_64_characters() {
        bad(&JOB_NAME, "", "got 0");
        ok(&JOB_NAME, "n");
        ok(&JOB_NAME, &"n".repeat(64));
        bad(&JOB_NAME, &"n".repeat(65), "between 1 and 64");
        bad(&JOB_NAME, "nightly#1", "pattern");
    }

    #[test]
    fn client_token_is_ascii_alphanumerics_and_dashes() {
        bad(&CLIENT_TOKEN, "", "got 0");
        ok(&CLIENT_TOKEN, "a");
        ok(&CLIENT_TOKEN, &"a-1".repeat(21));
        bad(&CLIENT_TOKEN, &"a".repeat(65), "between 1 and 64");
        bad(&CLIENT_TOKEN, "under_score", "pattern");
        bad(&CLIENT_TOKEN, "é", "pattern");
    }

    #[test]
    fn s3_uri_needs_the_scheme_and_a_valid_bucket() {
        ok(&S3_URI, "s3://abc");
        ok(&S3_URI, "s3://my-bucket.example/exports/nightly/");
        bad(&S3_URI, "s3://ab", "pattern");
        bad(&S3_URI, "https://my-bucket/x", "pattern");
        bad(&S3_URI, "s3://My-Bucket/x", "pattern");
        bad(&S3_URI, "s3://-bucket/x", "pattern");
        let at_limit = format!("s3://bucket/{}", "k".repeat(1024 - 12));
        ok(&S3_URI, &at_limit);
        bad(&S3_URI, &format!("{at_limit}k"), "between 1 and 1024");
        bad(&S3_URI, "", "got 0");
    }

    #[test]
    fn kms_key_id_takes_ids_arns_and_aliases() {
        ok(&KMS_KEY_ID, "1234abcd-12ab-34cd-56ef-1234567890ab");
        ok(
            &KMS_KEY_ID,
            "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        );
        ok(&KMS_KEY_ID, "alias/hlx-exports");
        ok(
            &KMS_KEY_ID,
            "arn:aws:kms:eu-west-1:123456789012:alias/hlx-exports",
        );
        bad(&KMS_KEY_ID, "", "between 1 and 400");
        bad(&KMS_KEY_ID, &"k".repeat(401), "got 401");
        ok(&KMS_KEY_ID, &"k".repeat(400));
        bad(&KMS_KEY_ID, "not a key!", "pattern");
    }

    #[test]
    fn patterns_read_as_ecma_262() {
        assert_eq!(ecma_262(r"^a\d{2}$"), "^a[0-9]{2}$");
        assert_eq!(
            ecma_262(r"^[a.]\.(/.*)?$"),
            r"^[a.]\.(/[^\n\r\u{2028}\u{2029}]*)?$"
        );
        // Only ASCII digits: an Arabic-Indic 3 is no region or account digit.
        bad(
            &KMS_KEY_ID,
            "arn:aws:kms:us-east-\u{663}:123456789012:key/k",
            "pattern",
        );
        bad(&KMS_KEY_ID, "12345678901\u{663}:key/k", "pattern");
        // `.` stops at line terminators.
        bad(&S3_URI, "s3://bucket/a\rb", "pattern");
        bad(&S3_URI, "s3://bucket/a\u{2028}b", "pattern");
        bad(
            &DATA_ACCESS_ROLE_ARN,
            "arn:aws:iam::123456789012:role/a\rb",
            "pattern",
        );
        ok(&S3_URI, "s3://bucket/a\tb");
    }

    #[test]
    fn role_arn_is_an_iam_role_of_a_12_digit_account() {
        ok(
            &DATA_ACCESS_ROLE_ARN,
            "arn:aws:iam::123456789012:role/HealthLakeExport",
        );
        ok(
            &DATA_ACCESS_ROLE_ARN,
            "arn:aws-us-gov:iam::123456789012:role/path/to/Role",
        );
        bad(
            &DATA_ACCESS_ROLE_ARN,
            "arn:aws:iam::12345678901:role/HealthLakeExport",
            "pattern",
        );
        bad(
            &DATA_ACCESS_ROLE_ARN,
            "arn:aws:iam::123456789012:user/someone",
            "pattern",
        );
        bad(
            &DATA_ACCESS_ROLE_ARN,
            "arn:aws:iam::1:role",
            "between 20 and 2048",
        );
        let long = format!("arn:aws:iam::123456789012:role/{}", "r".repeat(2048 - 31));
        ok(&DATA_ACCESS_ROLE_ARN, &long);
        bad(&DATA_ACCESS_ROLE_ARN, &format!("{long}r"), "got 2049");
    }
}
