//! One execution's interpreter: its lifecycle (start, the loop over states,
//! how it ends: success, failure, stop or timeout), the history events it
//! records, and the context object (`$$`) states see.

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use super::execution::{ExecutionShared, ExecutionStatus, Status, StopRequest};
use super::{RunnerInner, lock};
use crate::definition::{StateMachine, Transition};
use crate::error::{check_payload_size, names};
use crate::history::{EventKind, ExecutionStats, HistoryEvent, format_timestamp};
use crate::sched::sleep_opt;

/// How a state ended.
pub(super) enum Step {
    Next {
        output: Value,
        next: String,
    },
    End {
        output: Value,
    },
    Fail {
        error: Option<String>,
        cause: Option<String>,
    },
}

pub(super) enum Terminal {
    Succeeded(Value),
    Failed {
        error: Option<String>,
        cause: Option<String>,
    },
}

pub(super) struct Interp {
    pub(super) rt: Arc<RunnerInner>,
    pub(super) ex: Arc<ExecutionShared>,
    pub(super) rng: ChaCha8Rng,
}

impl Interp {
    pub(super) fn now(&self) -> Timestamp {
        self.rt.sched.now()
    }

    pub(super) fn emit(&self, kind: EventKind) {
        let event = {
            let mut r = lock(&self.ex.record);
            let id = r.history.len() as u64 + 1;
            let event = HistoryEvent {
                id,
                previous_event_id: id - 1,
                timestamp: self.now(),
                kind,
            };
            r.history.push(event.clone());
            event
        };
        tracing::debug!(execution = %self.ex.info.name, "{event}");
        let listeners = lock(&self.rt.listeners).clone();
        for listener in listeners {
            listener(&self.ex.info, &event);
        }
    }

    pub(super) fn stats(&self, f: impl FnOnce(&mut ExecutionStats)) {
        f(&mut lock(&self.ex.record).stats);
    }

    pub(super) fn context(
        &self,
        state: &str,
        entered: Timestamp,
        retry_count: u64,
        token: Option<&str>,
    ) -> Value {
        let mut ctx = json!({
            "Execution": {
                "Id": self.ex.info.arn,
                "Input": self.ex.input,
                "Name": self.ex.info.name,
                "RoleArn": self.rt.config.role_arn,
                "StartTime": format_timestamp(self.ex.start),
                "RedriveCount": 0,
            },
            "State": {
                "EnteredTime": format_timestamp(entered),
                "Name": state,
                "RetryCount": retry_count,
            },
            "StateMachine": {
                "Id": self.ex.state_machine_arn,
                "Name": self.ex.info.state_machine_name,
            },
        });
        if let Some(token) = token {
            ctx["Task"] = json!({ "Token": token });
        }
        ctx
    }

    pub(super) fn random_hex(&mut self, bytes: usize) -> String {
        // One draw per byte, as before: seeded task tokens stay the same.
        let drawn: Vec<u8> = (0..bytes).map(|_| self.rng.random::<u8>()).collect();
        hex::encode(drawn)
    }

    pub(super) fn request_id(&mut self) -> String {
        let mut bytes = [0u8; 16];
        self.rng.fill(&mut bytes);
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .hyphenated()
            .to_string()
    }

    pub(super) async fn run_execution(mut self, stop_rx: oneshot::Receiver<StopRequest>) {
        let machine = self.ex.machine.clone();
        self.emit(EventKind::ExecutionStarted {
            input: self.ex.input.clone(),
            role_arn: self.rt.config.role_arn.clone(),
            state_machine_arn: self.ex.state_machine_arn.clone(),
        });
        let flags = self.ex.flags.clone();
        let deadline = machine.timeout_seconds().map(|s| {
            self.ex
                .start
                .checked_add(SignedDuration::from_secs(s as i64))
                .unwrap_or(Timestamp::MAX)
        });
        // Not an idle wait: a stop request is an outside signal racing the
        // states, which `ExecutionHandle::stop` announces with `wake`.
        let stop = stop_rx;
        enum End {
            Done(Terminal),
            Stopped(Option<String>, Option<String>),
            TimedOut,
        }
        let end = {
            let run = self.run_states();
            tokio::pin!(run);
            tokio::select! {
                biased;
                Ok((error, cause)) = stop => End::Stopped(error, cause),
                () = sleep_opt(&flags, deadline) => End::TimedOut,
                terminal = &mut run => End::Done(terminal),
            }
        };
        let (status, kind, output, error, cause) = match end {
            End::Done(Terminal::Succeeded(output)) => (
                ExecutionStatus::Succeeded,
                EventKind::ExecutionSucceeded {
                    output: output.clone(),
                },
                Some(output),
                None,
                None,
            ),
            End::Done(Terminal::Failed { error, cause }) => (
                ExecutionStatus::Failed,
                EventKind::ExecutionFailed {
                    error: error.clone(),
                    cause: cause.clone(),
                },
                None,
                error,
                cause,
            ),
            End::Stopped(error, cause) => (
                ExecutionStatus::Aborted,
                EventKind::ExecutionAborted {
                    error: error.clone(),
                    cause: cause.clone(),
                },
                None,
                error,
                cause,
            ),
            End::TimedOut => {
                let error = Some(names::TIMEOUT.to_owned());
                let cause = Some("The execution ran longer than its TimeoutSeconds".to_owned());
                (
                    ExecutionStatus::TimedOut,
                    EventKind::ExecutionTimedOut {
                        error: error.clone(),
                        cause: cause.clone(),
                    },
                    None,
                    error,
                    cause,
                )
            }
        };
        self.emit(kind);
        lock(&self.rt.tokens).retain(|_, slot| slot.exec != flags.id());
        {
            let mut r = lock(&self.ex.record);
            r.status = Status(status);
            r.output = output;
            r.error = error;
            r.cause = cause;
            r.stop = Some(self.now());
        }
        lock(&self.ex.stop_tx).take();
        if let Some(parent) = &self.ex.parent {
            // Wake the Map state before it may miss the end (a permit is kept).
            self.rt.sched.wake(parent.id);
            parent.notify.notify_one();
        }
        self.rt.sched.notify();
    }

    async fn run_states(&mut self) -> Terminal {
        let machine = self.ex.machine.clone();
        let input = self.ex.input.clone();
        self.run_machine(&machine, input).await
    }

    /// Runs `machine`'s states from its `StartAt` on `input`: the
    /// execution's own, or an inline Map iteration's.
    pub(super) async fn run_machine(&mut self, machine: &StateMachine, mut input: Value) -> Terminal {
        let mut current = machine.start_at().to_owned();
        loop {
            let state = machine
                .state(&current)
                .expect("transitions were validated at load time");
            let entered = self.now();
            self.stats(|s| s.state_transitions += 1);
            self.emit(EventKind::StateEntered {
                state_type: state.kind.type_name(),
                name: state.name.clone(),
                input: input.clone(),
            });
            let step = self
                .run_state(state, &input, entered)
                .await
                .and_then(|step| match &step {
                    Step::Next { output, .. } | Step::End { output } => {
                        check_payload_size("state output", output).map(|()| step)
                    }
                    Step::Fail { .. } => Ok(step),
                });
            match step {
                Ok(Step::Next { output, next }) => {
                    self.emit(EventKind::StateExited {
                        state_type: state.kind.type_name(),
                        name: state.name.clone(),
                        output: output.clone(),
                    });
                    input = output;
                    current = next;
                }
                Ok(Step::End { output }) => {
                    self.emit(EventKind::StateExited {
                        state_type: state.kind.type_name(),
                        name: state.name.clone(),
                        output: output.clone(),
                    });
                    return Terminal::Succeeded(output);
                }
                Ok(Step::Fail { error, cause }) => return Terminal::Failed { error, cause },
                Err(e) => {
                    return Terminal::Failed {
                        error: Some(e.error),
                        cause: e.cause,
                    };
                }
            }
        }
    }

    pub(super) fn finish(transition: &Transition, output: Value) -> Step {
        match transition {
            Transition::Next(next) => Step::Next {
                output,
                next: next.clone(),
            },
            Transition::End => Step::End { output },
        }
    }
}
