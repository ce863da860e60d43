//! An export or an import as an operator sees it: its job record in
//! DynamoDB, or, before there is one (or without a table), the record its
//! execution's history describes — the input of the last `record-result`
//! call, turned into a record by the same code the function runs. The same
//! state machine runs both kinds; a view is always of the kind asked for.

use hlx_aws::DynamoDbJobStore;
use hlx_core::{JobKind, JobRecord, JobStatus, JobStore, RecordRequest, RecordStatus};
use jiff::Timestamp;
use serde_json::{Value, json};

use crate::CliError;
use crate::aws;

/// Where a view's record comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The job table.
    Record,
    /// The last record the execution's history shows `record-result` writing.
    History,
    /// The execution alone: it has not written a record yet.
    Execution,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Record => "record",
            Self::History => "history",
            Self::Execution => "execution",
        }
    }
}

/// What `DescribeExecution` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Execution {
    pub arn: String,
    pub name: String,
    pub status: String,
    pub start: Timestamp,
    pub stop: Option<Timestamp>,
    pub input: Option<String>,
    pub error: Option<String>,
    pub cause: Option<String>,
}

impl Execution {
    pub fn is_running(&self) -> bool {
        self.status == "RUNNING"
    }
}

/// How a job stands, for exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Running,
    Succeeded,
    Failed,
}

impl Outcome {
    /// 0 while running or when it succeeded, 1 when it failed.
    pub fn exit_code(self) -> u8 {
        match self {
            Self::Running | Self::Succeeded => 0,
            Self::Failed => 1,
        }
    }
}

/// One export or import: its record (real or derived) and, when looked up,
/// its execution.
#[derive(Debug, Clone, PartialEq)]
pub struct JobView {
    pub record: JobRecord,
    pub source: Source,
    pub execution: Option<Execution>,
}

impl JobView {
    pub fn outcome(&self) -> Outcome {
        let status = &self.record.status;
        if status.is_terminal() {
            return match status {
                RecordStatus::Job(JobStatus::Completed | JobStatus::CompletedWithErrors) => {
                    Outcome::Succeeded
                }
                _ => Outcome::Failed,
            };
        }
        // A record that stopped moving while its execution ended (aborted, or
        // its last write failed) ends with the execution.
        match &self.execution {
            Some(e) if !e.is_running() && e.status == "SUCCEEDED" => Outcome::Succeeded,
            Some(e) if !e.is_running() => Outcome::Failed,
            _ => Outcome::Running,
        }
    }

    /// The record in the API's shape (`GET /exports/{id}`, `GET
    /// /imports/{id}`), with where it came from and, when known, the
    /// execution's status.
    pub fn to_json(&self) -> Value {
        let mut value = api::api::record_answer(&self.record);
        value["source"] = json!(self.source.as_str());
        if let Some(e) = &self.execution {
            value["executionStatus"] = json!(e.status);
        }
        value
    }
}

/// Where the commands look: the state machine and the job table, either optional.
pub struct Backend {
    pub sfn: aws_sdk_sfn::Client,
    pub store: Option<DynamoDbJobStore>,
    pub state_machine_arn: Option<String>,
}

impl Backend {
    /// The execution name (the job's id) and, when it can be known, the
    /// execution ARN for an id given as either.
    pub fn resolve(&self, kind: JobKind, id: &str) -> Result<(String, Option<String>), CliError> {
        if id.starts_with("arn:") {
            let (prefix, name) = id.rsplit_once(':').unwrap_or(("", ""));
            if !prefix.contains(":states:") || !prefix.contains(":execution:") || name.is_empty() {
                return Err(CliError::Usage(format!(
                    "{id:?} is not an execution ARN (arn:aws:states:REGION:ACCOUNT:execution:MACHINE:NAME)"
                )));
            }
            return Ok((name.to_owned(), Some(id.to_owned())));
        }
        if !api::naming::is_possible_execution_name(id) {
            return Err(unknown(kind, id));
        }
        let arn = self
            .state_machine_arn
            .as_deref()
            .and_then(|sm| api::config::execution_arn(sm, id));
        Ok((id.to_owned(), arn))
    }

    /// The export or import `id`, or `None` when neither the table nor Step
    /// Functions knows a job of that kind by it.
    pub async fn job(&self, kind: JobKind, id: &str) -> Result<Option<JobView>, CliError> {
        let (name, arn) = self.resolve(kind, id)?;
        let record = match &self.store {
            Some(store) => store.get(kind, &name).await.map_err(aws::store_error)?,
            None => None,
        };
        if let Some(record) = &record
            && record.status.is_terminal()
        {
            return Ok(Some(JobView {
                record: record.clone(),
                source: Source::Record,
                execution: None,
            }));
        }
        let execution = match &arn {
            Some(arn) => self.describe(arn).await?,
            None => None,
        };
        if let Some(record) = record {
            return Ok(Some(JobView {
                record,
                source: Source::Record,
                execution,
            }));
        }
        let Some(execution) = execution else {
            return Ok(None);
        };
        // An execution of the other kind is not this job.
        if input_kind(execution.input.as_deref()) != kind {
            return Ok(None);
        }
        let derived = self.record_from_history(&execution.arn).await?;
        Ok(Some(match derived {
            Some(record) => JobView {
                record,
                source: Source::History,
                execution: Some(execution),
            },
            None => JobView {
                record: api::api::record_from_execution(
                    &api::ExecutionInfo {
                        execution_arn: execution.arn.clone(),
                        name: execution.name.clone(),
                        status: execution.status.clone(),
                        input: execution.input.clone(),
                        start_date: execution.start,
                        stop_date: execution.stop,
                    },
                    execution.stop.unwrap_or(execution.start),
                ),
                source: Source::Execution,
                execution: Some(execution),
            },
        }))
    }

    /// `DescribeExecution`; `None` for an execution that does not exist.
    pub async fn describe(&self, arn: &str) -> Result<Option<Execution>, CliError> {
        let out = match self.sfn.describe_execution().execution_arn(arn).send().await {
            Ok(out) => out,
            Err(err) if aws::error_code(&err) == Some("ExecutionDoesNotExist") => return Ok(None),
            Err(err) => return Err(aws::error("DescribeExecution", err)),
        };
        Ok(Some(Execution {
            arn: out.execution_arn().to_owned(),
            name: out
                .name()
                .map(str::to_owned)
                .unwrap_or_else(|| arn.rsplit(':').next().unwrap_or(arn).to_owned()),
            status: out.status().as_str().to_owned(),
            start: aws::timestamp(out.start_date()),
            stop: out.stop_date().map(aws::timestamp),
            input: out.input().map(str::to_owned),
            error: out.error().map(str::to_owned),
            cause: out.cause().map(str::to_owned),
        }))
    }

    /// The record the execution's last `record-result` call wrote, from its
    /// history, newest events first.
    async fn record_from_history(&self, arn: &str) -> Result<Option<JobRecord>, CliError> {
        let mut token = None;
        loop {
            let page = self
                .sfn
                .get_execution_history()
                .execution_arn(arn)
                .reverse_order(true)
                .max_results(100)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| aws::error("GetExecutionHistory", e))?;
            for event in page.events() {
                let payload = if let Some(d) = event.lambda_function_scheduled_event_details() {
                    d.input().and_then(|i| serde_json::from_str::<Value>(i).ok())
                } else if let Some(d) = event.task_scheduled_event_details() {
                    // arn:aws:states:::lambda:invoke passes the payload under Payload.
                    serde_json::from_str::<Value>(d.parameters())
                        .ok()
                        .and_then(|p| p.get("Payload").cloned())
                } else {
                    None
                };
                if let Some(request) = payload.and_then(|p| serde_json::from_value::<RecordRequest>(p).ok())
                    && let Ok(record) = JobRecord::from_request(request)
                {
                    return Ok(Some(record));
                }
            }
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                return Ok(None);
            }
        }
    }

    /// A page of the state machine's executions, newest first.
    pub async fn executions(
        &self,
        limit: u32,
        next_token: Option<String>,
    ) -> Result<(Vec<Execution>, Option<String>), CliError> {
        let Some(state_machine_arn) = &self.state_machine_arn else {
            return Err(CliError::Usage(
                "give --datastore-id (with --table) to list a data store's job records, \
                 or --state-machine-arn (or HLX_STATE_MACHINE_ARN) to list its executions"
                    .into(),
            ));
        };
        let page = self
            .sfn
            .list_executions()
            .state_machine_arn(state_machine_arn)
            .max_results(i32::try_from(limit).unwrap_or(1000))
            .set_next_token(next_token)
            .send()
            .await
            .map_err(|e| match aws::error_code(&e) {
                Some("InvalidToken") => {
                    CliError::Usage("--next-token is not a token this list returned".into())
                }
                _ => aws::error("ListExecutions", e),
            })?;
        let executions = page
            .executions()
            .iter()
            .map(|e| Execution {
                arn: e.execution_arn().to_owned(),
                name: e.name().to_owned(),
                status: e.status().as_str().to_owned(),
                start: aws::timestamp(e.start_date()),
                stop: e.stop_date().map(aws::timestamp),
                input: None,
                error: None,
                cause: None,
            })
            .collect();
        Ok((executions, page.next_token().map(str::to_owned)))
    }
}

/// The error for an id nobody knows (as a job of `kind`).
pub fn unknown(kind: JobKind, id: &str) -> CliError {
    CliError::Usage(format!("no {kind} has the id {id:?}"))
}

/// The kind an execution input asks for: its `kind` (absent, or not one hlx
/// knows: an export, as the state machine reads it).
pub fn input_kind(input: Option<&str>) -> JobKind {
    input
        .and_then(|i| serde_json::from_str::<Value>(i).ok())
        .and_then(|i| i.get("kind").and_then(Value::as_str).and_then(JobKind::parse))
        .unwrap_or_default()
}

/// The `hlx` command line of a kind's `subcommand`: `hlx watch x`, `hlx import watch x`.
pub fn command(kind: JobKind, subcommand: &str) -> String {
    match kind {
        JobKind::Export => format!("hlx {subcommand}"),
        JobKind::Import => format!("hlx import {subcommand}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_executions_kind_is_its_inputs() {
        assert_eq!(
            input_kind(Some(r#"{"kind":"import","datastoreId":"x"}"#)),
            JobKind::Import
        );
        for export in [
            Some(r#"{"datastoreId":"x"}"#),
            Some(r#"{"kind":"export"}"#),
            Some("not json"),
            None,
        ] {
            assert_eq!(input_kind(export), JobKind::Export, "{export:?}");
        }
        assert_eq!(JobKind::Import.id_field(), "importId");
        assert_eq!(command(JobKind::Import, "watch i1"), "hlx import watch i1");
        assert_eq!(command(JobKind::Export, "watch e1"), "hlx watch e1");
        assert_eq!(
            unknown(JobKind::Import, "x").message(),
            "no import has the id \"x\""
        );
    }
}
