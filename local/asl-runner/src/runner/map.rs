//! The Map state. Its items come from `ItemsPath` (or, for a Distributed
//! Map, from S3 through its `ItemReader`), each shaped by `ItemSelector`
//! (with `$$.Map.Item.Index` and `$$.Map.Item.Value`) and grouped by
//! `ItemBatcher`. An inline Map runs the processor's states in the
//! execution itself, at most `MaxConcurrency` iterations side by side (the
//! execution is idle, for virtual time, only while all of them wait). A
//! Distributed Map starts a Map Run: each item (or batch) is a
//! child execution of the processor, on the same clock, at most
//! `MaxConcurrency` at once, billed as executions of their own; failures
//! are tolerated up to `ToleratedFailurePercentage` / `ToleratedFailureCount`
//! (counted in items, a failed batch counting all of its items), beyond
//! that the state fails with `States.ExceedToleratedFailureThreshold`; the
//! `ResultWriter` writes `manifest.json` and `SUCCEEDED_0.json` /
//! `FAILED_0.json` as Step Functions does.

use std::collections::VecDeque;
use std::sync::Arc;

use jiff::Timestamp;
use serde_json::{Value, json};
use tokio::sync::Notify;

use super::Runner;
use super::execution::{ExecutionDescription, ExecutionHandle, ExecutionStatus, ParentLink};
use super::interp::{Interp, Terminal};
use super::map_run::{MapRunDescription, MapRunStatus};
use super::states::{apply_io_path, apply_result_path};
use crate::definition::{ItemBatcher, MapMode, MapState, State};
use crate::error::{StatesError, names};
use crate::history::{EventKind, format_timestamp};
use crate::intrinsic::EvalEnv;
use crate::map_storage::ListedObject;
use crate::sched::Branch;
use crate::template::Template;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub(crate) const EXCEED_TOLERATED: &str = "States.ExceedToleratedFailureThreshold";
/// Step Functions runs at most this many iterations of an inline Map at once.
const INLINE_MAX_CONCURRENCY: usize = 40;
pub(crate) const ITEM_READER_FAILED: &str = "States.ItemReaderFailed";
pub(crate) const RESULT_WRITER_FAILED: &str = "States.ResultWriterFailed";

/// A child execution of a Map Run, and what it was given.
struct Child {
    index: usize,
    input: Value,
    items: usize,
    handle: ExecutionHandle,
}

/// A child that ended.
struct Ended {
    index: usize,
    input: Value,
    description: ExecutionDescription,
}

impl Interp {
    fn eval_template(
        &mut self,
        template: &Template,
        input: &Value,
        context: &Value,
    ) -> Result<Value, StatesError> {
        template.eval(&mut EvalEnv {
            input,
            context,
            rng: &mut self.rng,
        })
    }

    /// One attempt of a Map state: its items, their runs, its result.
    pub(super) async fn map_attempt(
        &mut self,
        state: &State,
        map: &MapState,
        raw: &Value,
        entered: Timestamp,
    ) -> Result<Value, StatesError> {
        let effective = apply_io_path(raw, &map.input_path, "InputPath")?;
        let ctx = self.context(&state.name, entered, 0, None);
        let items = self.map_items(map, &effective, &ctx).await?;
        let mut selected = Vec::with_capacity(items.len());
        for (index, item) in items.into_iter().enumerate() {
            selected.push(match &map.item_selector {
                Some(template) => {
                    let mut item_ctx = ctx.clone();
                    item_ctx["Map"] = json!({ "Item": { "Index": index, "Value": item } });
                    self.eval_template(template, &effective, &item_ctx)?
                }
                None => item,
            });
        }
        let inputs = match &map.item_batcher {
            Some(batcher) => self.batches(selected, batcher, &effective, &ctx)?,
            None => selected,
        };
        self.emit(EventKind::MapStateStarted { length: inputs.len() });
        let result = match map.mode {
            MapMode::Inline => self.run_inline(state, map, inputs).await,
            MapMode::Distributed { .. } => self.run_distributed(state, map, inputs, &effective, &ctx).await,
        };
        let result = match result {
            Ok(result) => {
                self.emit(EventKind::MapStateSucceeded);
                result
            }
            Err(e) => {
                self.emit(EventKind::MapStateFailed {
                    error: e.error.clone(),
                    cause: e.cause.clone(),
                });
                return Err(e);
            }
        };
        let selected = match &map.result_selector {
            Some(template) => self.eval_template(template, &result, &ctx)?,
            None => result,
        };
        let output = apply_result_path(raw, &map.result_path, selected)?;
        apply_io_path(&output, &map.output_path, "OutputPath")
    }

    /// The items: an S3 listing (ItemReader) or an array of the input (ItemsPath).
    async fn map_items(
        &mut self,
        map: &MapState,
        effective: &Value,
        ctx: &Value,
    ) -> Result<Vec<Value>, StatesError> {
        let Some(reader) = &map.item_reader else {
            let items = match &map.items_path {
                Some(path) => path.select(effective),
                None => Some(effective.clone()),
            };
            return match items {
                Some(Value::Array(items)) => Ok(items),
                other => Err(StatesError::runtime(format!(
                    "The Map state's items must be an array; ItemsPath gives {}",
                    other.map_or("nothing".to_owned(), |v| v.to_string())
                ))),
            };
        };
        let parameters = match &reader.parameters {
            Some(template) => self.eval_template(template, effective, ctx)?,
            None => json!({}),
        };
        let bucket = parameters.get("Bucket").and_then(Value::as_str).ok_or_else(|| {
            StatesError::new(ITEM_READER_FAILED, "The ItemReader's Parameters name no Bucket")
        })?;
        let prefix = parameters
            .get("Prefix")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let storage = self.rt.map_storage.clone().ok_or_else(|| {
            StatesError::new(ITEM_READER_FAILED, "No S3 is configured for Distributed Maps")
        })?;
        let listed = storage
            .list_objects(bucket, prefix)
            .await
            .map_err(|e| StatesError::new(ITEM_READER_FAILED, format!("{}: {}", e.error, e.cause)))?;
        let mut items: Vec<Value> = listed.iter().map(ListedObject::to_item).collect();
        if let Some(max) = reader.max_items {
            items.truncate(usize::try_from(max).unwrap_or(usize::MAX));
        }
        Ok(items)
    }

    /// `{"Items": [...], "BatchInput": ...}` of at most MaxItemsPerBatch items
    /// and MaxInputBytesPerBatch bytes (a single larger item is a batch alone).
    fn batches(
        &mut self,
        items: Vec<Value>,
        batcher: &ItemBatcher,
        effective: &Value,
        ctx: &Value,
    ) -> Result<Vec<Value>, StatesError> {
        let batch_input = match &batcher.batch_input {
            Some(template) => Some(self.eval_template(template, effective, ctx)?),
            None => None,
        };
        let max_items = batcher
            .max_items
            .map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX));
        let max_bytes = batcher
            .max_bytes
            .map_or(256 * 1024, |n| usize::try_from(n).unwrap_or(usize::MAX));
        let wrap = |items: Vec<Value>| {
            let mut batch = json!({ "Items": items });
            if let Some(input) = &batch_input {
                batch["BatchInput"] = input.clone();
            }
            batch
        };
        let mut batches = Vec::new();
        let mut current: Vec<Value> = Vec::new();
        let mut bytes = 0;
        for item in items {
            let size = item.to_string().len();
            if !current.is_empty() && (current.len() >= max_items || bytes + size > max_bytes) {
                batches.push(wrap(std::mem::take(&mut current)));
                bytes = 0;
            }
            bytes += size;
            current.push(item);
        }
        if !current.is_empty() {
            batches.push(wrap(current));
        }
        Ok(batches)
    }

    /// An inline Map: the processor's states in this execution, at most
    /// `MaxConcurrency` iterations at once (Step Functions runs up to 40;
    /// 0 means that many). Each iteration draws its own seeded randomness
    /// (retry jitter) in index order, so a run repeats exactly. The first
    /// iteration to fail fails the state and stops the others.
    async fn run_inline(
        &mut self,
        state: &State,
        map: &MapState,
        inputs: Vec<Value>,
    ) -> Result<Value, StatesError> {
        let limit = match map.max_concurrency {
            0 => INLINE_MAX_CONCURRENCY,
            n => usize::try_from(n)
                .unwrap_or(usize::MAX)
                .min(INLINE_MAX_CONCURRENCY),
        };
        let mut outputs: Vec<Option<Value>> = vec![None; inputs.len()];
        let mut pending = inputs.into_iter().enumerate();
        // The iterations under way: their indexes, and their runs.
        let mut indexes: Vec<usize> = Vec::new();
        let mut running: Vec<Branch<Terminal>> = Vec::new();
        loop {
            while running.len() < limit {
                let Some((index, input)) = pending.next() else {
                    break;
                };
                self.emit(EventKind::MapIterationStarted {
                    name: state.name.clone(),
                    index,
                });
                let iteration = Interp {
                    rt: self.rt.clone(),
                    ex: self.ex.clone(),
                    rng: ChaCha8Rng::seed_from_u64(self.rng.random()),
                };
                indexes.push(index);
                running.push(iteration_run(iteration, map.processor.clone(), input));
            }
            if running.is_empty() {
                break;
            }
            let flags = self.ex.flags.clone();
            let (slot, terminal) = flags.first_of(&mut running).await;
            drop(running.remove(slot));
            let index = indexes.remove(slot);
            let name = state.name.clone();
            match terminal {
                Terminal::Succeeded(output) => {
                    self.emit(EventKind::MapIterationSucceeded { name, index });
                    outputs[index] = Some(output);
                }
                Terminal::Failed { error, cause } => {
                    self.emit(EventKind::MapIterationFailed { name, index });
                    return Err(StatesError {
                        error: error.unwrap_or_else(|| names::BRANCH_FAILED.to_owned()),
                        cause,
                    });
                }
            }
        }
        Ok(Value::Array(
            outputs
                .into_iter()
                .map(|o| o.expect("every iteration ended"))
                .collect(),
        ))
    }

    /// A Distributed Map: a Map Run of child executions.
    async fn run_distributed(
        &mut self,
        state: &State,
        map: &MapState,
        inputs: Vec<Value>,
        effective: &Value,
        ctx: &Value,
    ) -> Result<Value, StatesError> {
        let label = map.label.clone().unwrap_or_else(|| state.name.clone());
        let machine_name = format!("{}/{label}", self.ex.info.state_machine_name);
        let run_id = self.request_id();
        let map_run_arn = format!(
            "arn:aws:states:{}:{}:mapRun:{machine_name}:{run_id}",
            self.rt.config.region, self.rt.config.account
        );
        let machine = Arc::new((*map.processor).clone().with_name(machine_name));
        self.emit(EventKind::MapRunStarted {
            map_run_arn: map_run_arn.clone(),
        });
        let runner = Runner {
            inner: self.rt.clone(),
        };
        let notify = Arc::new(Notify::new());
        let link = ParentLink {
            id: self.ex.flags.id(),
            map_run_arn: map_run_arn.clone(),
            items: 1,
            notify: notify.clone(),
        };
        let items_of = |input: &Value| input.get("Items").and_then(Value::as_array).map_or(1, Vec::len);
        let total_items: usize = inputs
            .iter()
            .map(|i| {
                if map.item_batcher.is_some() {
                    items_of(i)
                } else {
                    1
                }
            })
            .sum();
        runner.map_run_started(MapRunDescription {
            arn: map_run_arn.clone(),
            execution_arn: self.ex.info.arn.clone(),
            state_machine_arn: runner.state_machine_arn(&machine),
            status: MapRunStatus::Running,
            start_date: self.rt.sched.now(),
            stop_date: None,
            max_concurrency: map.max_concurrency,
            tolerated_failure_percentage: map.tolerated_failure_percentage.unwrap_or(0.0),
            tolerated_failure_count: map.tolerated_failure_count.unwrap_or(0),
            items: total_items as u64,
            children: inputs.len() as u64,
            writes_results: map.result_writer.is_some(),
        });
        let result: Result<Value, StatesError> = async {
            let limit = match map.max_concurrency {
                0 => usize::MAX,
                n => usize::try_from(n).unwrap_or(usize::MAX),
            };
            let mut pending: VecDeque<(usize, Value)> = inputs.into_iter().enumerate().collect();
            let mut running: Vec<Child> = Vec::new();
            let mut ended: Vec<Ended> = Vec::new();
            let mut failed_items = 0;
            loop {
                while running.len() < limit {
                    let Some((index, input)) = pending.pop_front() else {
                        break;
                    };
                    let name = self.request_id();
                    let items = if map.item_batcher.is_some() {
                        items_of(&input)
                    } else {
                        1
                    };
                    let child_link = ParentLink {
                        items,
                        ..link.clone()
                    };
                    let handle = runner
                        .start(&machine, &name, input.clone(), Some(child_link))
                        .map_err(|e| {
                            StatesError::runtime(format!("A child execution could not start: {e}"))
                        })?;
                    running.push(Child {
                        index,
                        input,
                        items,
                        handle,
                    });
                }
                if running.is_empty() {
                    break;
                }
                while running
                    .iter()
                    .all(|c| c.handle.status() == ExecutionStatus::Running)
                {
                    let flags = self.ex.flags.clone();
                    flags.idle(notify.notified()).await;
                }
                let (done, still): (Vec<Child>, Vec<Child>) = running
                    .into_iter()
                    .partition(|c| c.handle.status() != ExecutionStatus::Running);
                running = still;
                for child in done {
                    let description = child.handle.describe();
                    if description.status != ExecutionStatus::Succeeded {
                        failed_items += child.items;
                    }
                    ended.push(Ended {
                        index: child.index,
                        input: child.input,
                        description,
                    });
                }
                if exceeds_tolerance(map, failed_items, total_items) {
                    for child in &running {
                        child
                            .handle
                            .stop(Some(EXCEED_TOLERATED), Some("The Map Run failed"));
                    }
                    let cause = format!(
                        "{failed_items} of {total_items} items failed, more than the Map Run tolerates ({})",
                        tolerance_text(map)
                    );
                    self.emit(EventKind::MapRunFailed {
                        error: EXCEED_TOLERATED.to_owned(),
                        cause: Some(cause.clone()),
                    });
                    return Err(StatesError::new(EXCEED_TOLERATED, cause));
                }
            }
            ended.sort_by_key(|e| e.index);
            let result = match &map.result_writer {
                Some(template) => {
                    let parameters = self.eval_template(template, effective, ctx)?;
                    self.write_results(&parameters, &map_run_arn, &run_id, &ended)
                        .await
                }
                None => Ok(Value::Array(
                    ended
                        .iter()
                        .map(|e| {
                            e.description.output.clone().unwrap_or_else(
                                || json!({ "Error": e.description.error, "Cause": e.description.cause }),
                            )
                        })
                        .collect(),
                )),
            };
            match &result {
                Ok(_) => self.emit(EventKind::MapRunSucceeded),
                Err(e) => self.emit(EventKind::MapRunFailed {
                    error: e.error.clone(),
                    cause: e.cause.clone(),
                }),
            }
            result
        }
        .await;
        runner.map_run_ended(
            &map_run_arn,
            if result.is_ok() {
                MapRunStatus::Succeeded
            } else {
                MapRunStatus::Failed
            },
            self.rt.sched.now(),
        );
        result
    }

    /// The ResultWriter: `{Prefix}/{run id}/SUCCEEDED_0.json`, `FAILED_0.json`
    /// and `manifest.json`; the state's result points at the manifest.
    async fn write_results(
        &mut self,
        parameters: &Value,
        map_run_arn: &str,
        run_id: &str,
        ended: &[Ended],
    ) -> Result<Value, StatesError> {
        let failed = |cause: String| StatesError::new(RESULT_WRITER_FAILED, cause);
        let bucket = parameters
            .get("Bucket")
            .and_then(Value::as_str)
            .ok_or_else(|| failed("The ResultWriter's Parameters name no Bucket".into()))?;
        let prefix = parameters
            .get("Prefix")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .trim_end_matches('/');
        let base = if prefix.is_empty() {
            run_id.to_owned()
        } else {
            format!("{prefix}/{run_id}")
        };
        let storage = self
            .rt
            .map_storage
            .clone()
            .ok_or_else(|| failed("No S3 is configured for Distributed Maps".into()))?;
        let entry = |e: &Ended| {
            let d = &e.description;
            let mut entry = json!({
                "ExecutionArn": d.arn,
                "Input": e.input.to_string(),
                "InputDetails": { "Included": true },
                "Name": d.name,
                "OutputDetails": { "Included": true },
                "RedriveCount": 0,
                "StartDate": format_timestamp(d.start_date),
                "StateMachineArn": d.state_machine_arn,
                "Status": d.status.as_str(),
                "StopDate": d.stop_date.map(format_timestamp),
            });
            match &d.output {
                Some(output) => entry["Output"] = json!(output.to_string()),
                None => {
                    entry["Error"] = json!(d.error);
                    entry["Cause"] = json!(d.cause);
                }
            }
            entry
        };
        let mut files = json!({ "FAILED": [], "PENDING": [], "SUCCEEDED": [] });
        for (status, succeeded) in [("SUCCEEDED", true), ("FAILED", false)] {
            let entries: Vec<Value> = ended
                .iter()
                .filter(|e| (e.description.status == ExecutionStatus::Succeeded) == succeeded)
                .map(entry)
                .collect();
            if entries.is_empty() {
                continue;
            }
            let key = format!("{base}/{status}_0.json");
            let body = serde_json::to_vec(&entries).expect("entries serialize");
            let size = body.len();
            storage
                .put_object(bucket, &key, body)
                .await
                .map_err(|e| failed(format!("{}: {}", e.error, e.cause)))?;
            files[status] = json!([{ "Key": key, "Size": size }]);
        }
        let manifest_key = format!("{base}/manifest.json");
        let manifest = json!({
            "DestinationBucket": bucket,
            "MapRunArn": map_run_arn,
            "ResultFiles": files,
        });
        storage
            .put_object(
                bucket,
                &manifest_key,
                serde_json::to_vec_pretty(&manifest).expect("serializes"),
            )
            .await
            .map_err(|e| failed(format!("{}: {}", e.error, e.cause)))?;
        Ok(json!({
            "MapRunArn": map_run_arn,
            "ResultWriterDetails": { "Bucket": bucket, "Key": manifest_key },
        }))
    }
}

/// Whether `failed` of `total` items is more than the Map tolerates
/// (nothing, unless a percentage or count says otherwise; either breached fails).
/// One inline iteration's run, boxed apart from the Map state's own future
/// (the states it runs may hold another Map).
fn iteration_run(
    mut iteration: Interp,
    processor: Arc<crate::definition::StateMachine>,
    input: Value,
) -> Branch<Terminal> {
    Box::pin(async move { iteration.run_machine(&processor, input).await })
}

fn exceeds_tolerance(map: &MapState, failed: usize, total: usize) -> bool {
    if failed == 0 {
        return false;
    }
    match (map.tolerated_failure_percentage, map.tolerated_failure_count) {
        (None, None) => true,
        (percentage, count) => {
            let over_share = percentage.is_some_and(|p| failed as f64 * 100.0 / total.max(1) as f64 > p);
            let over_count = count.is_some_and(|c| failed as u64 > c);
            over_share || over_count
        }
    }
}

fn tolerance_text(map: &MapState) -> String {
    match (map.tolerated_failure_percentage, map.tolerated_failure_count) {
        (None, None) => "no failure".into(),
        (Some(p), None) => format!("{p}%"),
        (None, Some(c)) => format!("{c} items"),
        (Some(p), Some(c)) => format!("{p}% and {c} items"),
    }
}
