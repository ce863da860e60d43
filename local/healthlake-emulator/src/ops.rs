//! The operations the emulator serves.

use std::fmt;
use std::str::FromStr;

/// A HealthLake operation the emulator implements (`X-Amz-Target: HealthLake.<name>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    CreateFhirDatastore,
    DescribeFhirDatastore,
    ListFhirDatastores,
    StartFhirExportJob,
    DescribeFhirExportJob,
    ListFhirExportJobs,
    StartFhirImportJob,
    DescribeFhirImportJob,
    ListFhirImportJobs,
    /// FHIR REST `POST .../r4/[Patient/|Group/{id}/]$export` (kick-off).
    StartFhirExportJobWithPost,
    /// FHIR REST `GET .../r4/export/{jobId}` (status).
    DescribeFhirExportJobWithGet,
    /// FHIR REST `DELETE .../r4/export/{jobId}` (cancel).
    CancelFhirExportJobWithDelete,
}

/// The `X-Amz-Target` prefix of every HealthLake operation.
pub const TARGET_PREFIX: &str = "HealthLake.";

impl Operation {
    /// Every operation: the nine awsJson ones, then the three FHIR REST ones.
    pub const ALL: [Operation; 12] = [
        Operation::CreateFhirDatastore,
        Operation::DescribeFhirDatastore,
        Operation::ListFhirDatastores,
        Operation::StartFhirExportJob,
        Operation::DescribeFhirExportJob,
        Operation::ListFhirExportJobs,
        Operation::StartFhirImportJob,
        Operation::DescribeFhirImportJob,
        Operation::ListFhirImportJobs,
        Operation::StartFhirExportJobWithPost,
        Operation::DescribeFhirExportJobWithGet,
        Operation::CancelFhirExportJobWithDelete,
    ];

    /// The operation's name in the model (`StartFHIRExportJob`).
    pub fn name(self) -> &'static str {
        match self {
            Self::CreateFhirDatastore => "CreateFHIRDatastore",
            Self::DescribeFhirDatastore => "DescribeFHIRDatastore",
            Self::ListFhirDatastores => "ListFHIRDatastores",
            Self::StartFhirExportJob => "StartFHIRExportJob",
            Self::DescribeFhirExportJob => "DescribeFHIRExportJob",
            Self::ListFhirExportJobs => "ListFHIRExportJobs",
            Self::StartFhirImportJob => "StartFHIRImportJob",
            Self::DescribeFhirImportJob => "DescribeFHIRImportJob",
            Self::ListFhirImportJobs => "ListFHIRImportJobs",
            Self::StartFhirExportJobWithPost => "StartFHIRExportJobWithPost",
            Self::DescribeFhirExportJobWithGet => "DescribeFHIRExportJobWithGet",
            Self::CancelFhirExportJobWithDelete => "CancelFHIRExportJobWithDelete",
        }
    }

    /// Whether it is one of the FHIR REST `$export` operations (named as
    /// their IAM actions), not reachable through `X-Amz-Target`.
    pub fn is_rest(self) -> bool {
        matches!(
            self,
            Self::StartFhirExportJobWithPost
                | Self::DescribeFhirExportJobWithGet
                | Self::CancelFhirExportJobWithDelete
        )
    }

    /// The operation of a model name, exactly as spelled there.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|op| op.name() == name)
    }

    /// The operation of an `X-Amz-Target` header value (`HealthLake.StartFHIRExportJob`).
    pub fn from_target(target: &str) -> Option<Self> {
        target
            .strip_prefix(TARGET_PREFIX)
            .and_then(Self::from_name)
            .filter(|op| !op.is_rest())
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Operation {
    type Err = String;

    /// Accepts the model name, with or without the `HealthLake.` prefix.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_name(s)
            .or_else(|| Self::from_target(s))
            .ok_or_else(|| {
                let names: Vec<_> = Self::ALL.iter().map(|op| op.name()).collect();
                format!("unknown operation {s:?} (one of {})", names.join(", "))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_targets_need_the_prefix() {
        for op in Operation::ALL {
            assert_eq!(Operation::from_name(op.name()), Some(op));
            if op.is_rest() {
                assert_eq!(Operation::from_target(&format!("HealthLake.{}", op.name())), None);
                continue;
            }
            assert_eq!(
                Operation::from_target(&format!("HealthLake.{}", op.name())),
                Some(op)
            );
            assert_eq!(Operation::from_target(op.name()), None);
        }
        assert_eq!(Operation::from_name("startFHIRExportJob"), None);
        assert!("DeleteFHIRDatastore".parse::<Operation>().is_err());
    }
}
