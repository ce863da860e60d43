//! Starting the runner: the clock the stack runs on (virtual, or the wall
//! clock), the local ASL runner on it, the Step Functions API over the
//! runner with the job state machine registered, and that API served on a
//! loopback port for the functions' own calls (`SendTaskSuccess`).

use std::sync::Arc;

use hlx_asl_runner::{Runner, SfnApi, SfnServer, StateMachine};
use hlx_clock::{SharedClock, SystemClock, VirtualClock};
use jiff::SignedDuration;

use crate::config::Time;
use crate::functions::LateInvoker;
use crate::names::{ACCOUNT, REGION};

/// The stack's clock and, in virtual time, the handle that moves it. A
/// virtual clock starts a minute before `start`.
pub(crate) fn clock(time: &Time) -> (SharedClock, Option<VirtualClock>) {
    match time {
        Time::Virtual(start) => {
            let clock = VirtualClock::starting_at(*start - SignedDuration::from_mins(1));
            (Arc::new(clock.clone()), Some(clock))
        }
        Time::Real => (Arc::new(SystemClock), None),
    }
}

/// The runner, the Step Functions API over it, and that API as the functions reach it.
pub(crate) struct StartedRunner {
    pub(crate) runner: Runner,
    pub(crate) sfn: SfnApi,
    /// The job state machine's ARN (`...:stateMachine:hlx-job`).
    pub(crate) state_machine_arn: String,
    /// The Step Functions API the functions call (`SendTaskSuccess`).
    pub(crate) functions_sfn: SfnServer,
}

/// Builds the runner on the stack's clock, its tasks going to `invoker`
/// (set once the functions are up), registers `machine` and serves the API.
pub(crate) async fn start(
    seed: u64,
    clock: &SharedClock,
    virtual_clock: Option<&VirtualClock>,
    invoker: LateInvoker,
    machine: Arc<StateMachine>,
    map_storage: Arc<dyn hlx_asl_runner::MapStorage>,
) -> Result<StartedRunner, String> {
    let builder = Runner::builder(invoker)
        .map_storage(map_storage)
        .seed(seed)
        .region(REGION)
        .account(ACCOUNT);
    let builder = match virtual_clock {
        Some(clock) => builder.virtual_time(clock.clone()),
        None => builder.real_time(clock.clone()),
    };
    let runner = builder.build();
    let sfn = SfnApi::new(runner.clone());
    let state_machine_arn = sfn.register(machine);
    // The functions' own Step Functions endpoint, for SendTaskSuccess.
    let functions_sfn = sfn
        .serve("127.0.0.1:0".parse().expect("loopback"))
        .await
        .map_err(|e| format!("the Step Functions API could not listen: {e}"))?;
    Ok(StartedRunner {
        runner,
        sfn,
        state_machine_arn,
        functions_sfn,
    })
}
