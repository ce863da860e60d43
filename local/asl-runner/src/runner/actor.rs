//! Actors: tasks outside any execution that take part in virtual time
//! ([`Runner::spawn_actor`], [`ActorContext`], [`ActorHandle`]).

use std::sync::Arc;

use jiff::Timestamp;

use super::Runner;
use crate::sched::{ExecFlags, ExecTask, Scheduler};

impl Runner {
    /// Spawns an *actor*: a task outside any execution that takes part in
    /// virtual time (a local event bus, an emulator's background work). It
    /// gets a turn whenever the clock moves and whenever a wake-up source is
    /// [`WakeSource::due`](crate::sched::WakeSource::due); while it works,
    /// time stands still, so what it does happens at the virtual time it was
    /// woken for. The body waits for its next turn with
    /// [`ActorContext::next_turn`]. On real time the turns come from a real
    /// timer instead. Dropping the handle stops the actor.
    pub fn spawn_actor<F, Fut>(&self, body: F) -> ActorHandle
    where
        F: FnOnce(ActorContext) -> Fut,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let (flags, turn) = self.inner.sched.register_actor();
        let ctx = ActorContext {
            flags: flags.clone(),
            turn,
            sched: self.inner.sched.clone(),
        };
        let task = tokio::spawn(ExecTask::new(flags, body(ctx)));
        ActorHandle { task }
    }
}

/// What an actor ([`Runner::spawn_actor`]) waits with.
pub struct ActorContext {
    flags: ExecFlags,
    turn: Arc<tokio::sync::Notify>,
    sched: Arc<Scheduler>,
}

impl ActorContext {
    /// The runner's clock.
    pub fn now(&self) -> Timestamp {
        self.sched.now()
    }

    /// Waits for the actor's next turn. On virtual time that is the next move
    /// of the clock (or a due wake-up source); on real time, `deadline` or
    /// `poll` from now, whichever comes first.
    pub async fn next_turn(&self, deadline: Option<Timestamp>, poll: std::time::Duration) {
        if self.sched.is_virtual() {
            self.flags.idle(self.turn.notified()).await;
            return;
        }
        let now = self.sched.now();
        let until_deadline = deadline
            .map(|d| std::time::Duration::try_from(d.duration_since(now)).unwrap_or_default())
            .unwrap_or(poll);
        tokio::time::sleep(until_deadline.min(poll)).await;
    }
}

/// A running actor; dropping it stops the actor.
#[derive(Debug)]
pub struct ActorHandle {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ActorHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}
