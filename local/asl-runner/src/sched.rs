//! Time for executions: virtual (a discrete-event simulation) or real.
//!
//! In virtual mode every execution is a tokio task wrapped in [`ExecTask`],
//! which records after each poll whether the execution is *idle*: pending
//! only on virtual timers or on outside signals (task tokens, stop
//! requests), never on real work such as a task invocation in flight. Time
//! moves only inside [`Scheduler::drive_until`] (what `ExecutionHandle::wait`
//! runs), and only when every live execution is idle and no wake-up is still
//! undelivered: the clock then jumps to the earliest of the pending timers and
//! of the wake-up sources' next times, and the timers due then fire.
//!
//! An execution marks an await as idle by wrapping it in [`Idle`]. Passive
//! timers (a task's timeout while the task works) are not wrapped: they only
//! fire once everything else is idle.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use hlx_clock::{SharedClock, VirtualClock};
use jiff::Timestamp;
use tokio::sync::{Notify, oneshot};

/// Something outside the runner that will act at a known virtual time (the
/// HealthLake emulator's next job transition, an event bus delivery...).
/// When all executions wait on time, the clock advances to the earliest of
/// the timers and of every source's next wake-up, so outside events happen at
/// their own time rather than being jumped over.
pub trait WakeSource: Send + Sync {
    /// The next virtual time strictly after `now` when this source has
    /// something to do, if any. Times at or before `now` are ignored.
    fn next_wake(&self, now: Timestamp) -> Option<Timestamp>;

    /// Whether the source has something to do already, at `now` (an event
    /// bus with a delivery due): the clock then stays where it is and the
    /// actors ([`crate::Runner::spawn_actor`]) get a turn first.
    fn due(&self, _now: Timestamp) -> bool {
        false
    }
}

impl<F> WakeSource for F
where
    F: Fn(Timestamp) -> Option<Timestamp> + Send + Sync,
{
    fn next_wake(&self, now: Timestamp) -> Option<Timestamp> {
        self(now)
    }
}

#[derive(Debug, Default)]
struct ExecSlot {
    idle: bool,
    wakeups: u32,
    /// Set for an actor: notified at every turn of the clock.
    turn: Option<Arc<Notify>>,
}

struct TimerSlot {
    exec: u64,
    tx: oneshot::Sender<()>,
}

#[derive(Default)]
struct SchedState {
    execs: HashMap<u64, ExecSlot>,
    timers: BTreeMap<(Timestamp, u64), TimerSlot>,
    next_id: u64,
}

impl SchedState {
    fn all_idle(&self) -> bool {
        !self.execs.is_empty() && self.execs.values().all(|e| e.idle && e.wakeups == 0)
    }

    fn fresh_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }
}

pub(crate) struct Scheduler {
    clock: SharedClock,
    virtual_clock: Option<VirtualClock>,
    state: Mutex<SchedState>,
    changed: Notify,
    sources: Mutex<Vec<Arc<dyn WakeSource>>>,
}

impl Scheduler {
    pub fn new_virtual(clock: VirtualClock) -> Arc<Scheduler> {
        Arc::new(Scheduler {
            clock: Arc::new(clock.clone()),
            virtual_clock: Some(clock),
            state: Mutex::default(),
            changed: Notify::new(),
            sources: Mutex::default(),
        })
    }

    pub fn new_real(clock: SharedClock) -> Arc<Scheduler> {
        Arc::new(Scheduler {
            clock,
            virtual_clock: None,
            state: Mutex::default(),
            changed: Notify::new(),
            sources: Mutex::default(),
        })
    }

    pub fn clock(&self) -> SharedClock {
        self.clock.clone()
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub fn is_virtual(&self) -> bool {
        self.virtual_clock.is_some()
    }

    fn lock(&self) -> MutexGuard<'_, SchedState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn add_source(&self, source: Arc<dyn WakeSource>) {
        self.sources
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(source);
        self.changed.notify_waiters();
    }

    /// Registers a new execution (running, not idle).
    pub fn register(self: &Arc<Self>) -> ExecFlags {
        let id = {
            let mut st = self.lock();
            let id = st.fresh_id();
            st.execs.insert(id, ExecSlot::default());
            id
        };
        ExecFlags {
            inner: Arc::new(FlagsInner {
                sched: self.clone(),
                id,
                mark: AtomicBool::new(false),
            }),
        }
    }

    /// Registers an actor: a participant of virtual time, like an
    /// execution, that gets a turn whenever the clock moves (or a source is
    /// due) and holds the clock while it works.
    pub fn register_actor(self: &Arc<Self>) -> (ExecFlags, Arc<Notify>) {
        let flags = self.register();
        let turn = Arc::new(Notify::new());
        if let Some(slot) = self.lock().execs.get_mut(&flags.id()) {
            slot.turn = Some(turn.clone());
        }
        (flags, turn)
    }

    /// Gives every actor a turn (they count as awake until they have run).
    fn wake_actors(st: &mut SchedState) -> bool {
        let mut any = false;
        for slot in st.execs.values_mut() {
            if let Some(turn) = &slot.turn {
                slot.wakeups += 1;
                turn.notify_one();
                any = true;
            }
        }
        any
    }

    fn unregister(&self, id: u64) {
        let mut st = self.lock();
        st.execs.remove(&id);
        st.timers.retain(|_, t| t.exec != id);
        drop(st);
        self.changed.notify_waiters();
    }

    /// Records that something outside will wake execution `id` (a task
    /// token arrived, a stop request): time may not move until it has run.
    /// Call it *before* delivering the signal.
    pub fn wake(&self, id: u64) {
        if let Some(slot) = self.lock().execs.get_mut(&id) {
            slot.wakeups += 1;
        }
    }

    fn begin_poll(&self, id: u64) {
        if let Some(slot) = self.lock().execs.get_mut(&id) {
            slot.idle = false;
            slot.wakeups = 0;
        }
    }

    fn end_poll(&self, id: u64, idle: bool) {
        let became_idle = {
            let mut st = self.lock();
            match st.execs.get_mut(&id) {
                Some(slot) => {
                    slot.idle = idle;
                    idle
                }
                None => false,
            }
        };
        if became_idle {
            self.changed.notify_waiters();
        }
    }

    /// A timer for execution `exec` that fires at `deadline`.
    pub fn sleep_until(self: &Arc<Self>, exec: u64, deadline: Timestamp) -> Sleep {
        let now = self.now();
        if deadline <= now {
            return Sleep {
                inner: SleepInner::Done,
            };
        }
        if self.virtual_clock.is_none() {
            let wait = deadline.duration_since(now);
            let wait = std::time::Duration::try_from(wait).unwrap_or_default();
            return Sleep {
                inner: SleepInner::Real(Box::pin(tokio::time::sleep(wait))),
            };
        }
        let (tx, rx) = oneshot::channel();
        let key = {
            let mut st = self.lock();
            let key = (deadline, st.fresh_id());
            st.timers.insert(key, TimerSlot { exec, tx });
            key
        };
        Sleep {
            inner: SleepInner::Virtual {
                rx,
                key,
                sched: self.clone(),
            },
        }
    }

    /// Waits until `done()` holds, advancing virtual time whenever every
    /// execution is idle.
    pub async fn drive_until(&self, mut done: impl FnMut() -> bool) {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if done() {
                return;
            }
            if self.advance() {
                continue;
            }
            notified.await;
        }
    }

    /// Waits until every execution and actor is idle, without moving the
    /// clock: what is under way at this instant (an event delivery) finishes.
    pub async fn settle(&self) {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let st = self.lock();
                if st.execs.is_empty() || st.all_idle() {
                    return;
                }
            }
            notified.await;
        }
    }

    /// Drives the simulation until the clock reaches `at` or nothing is left
    /// to happen (no timer, no wake-up source), even with no execution
    /// running: actors (an event bus) still get their turns.
    pub async fn drive_to(&self, at: Timestamp) {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.now() >= at {
                return;
            }
            if self.advance_within(Some(at)) {
                continue;
            }
            if self.lock().all_idle() {
                return;
            }
            notified.await;
        }
    }

    /// One step of the simulation: when every live execution is idle, moves
    /// the clock to the next wake-up and fires the timers due. Returns true
    /// if it did.
    fn advance(&self) -> bool {
        self.advance_within(None)
    }

    /// [`Scheduler::advance`], never past `limit`: a wake-up beyond it moves
    /// the clock to `limit` only.
    fn advance_within(&self, limit: Option<Timestamp>) -> bool {
        let Some(vclock) = &self.virtual_clock else {
            return false;
        };
        if !self.lock().all_idle() {
            return false;
        }
        let now = self.clock.now();
        // Ask the sources without holding the lock: they may call back in.
        let sources: Vec<_> = self.sources.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let due = sources.iter().any(|s| s.due(now));
        let from_sources = sources
            .iter()
            .filter_map(|s| s.next_wake(now))
            .filter(|t| *t > now)
            .min();
        let mut st = self.lock();
        if !st.all_idle() {
            return false;
        }
        if due && Self::wake_actors(&mut st) {
            drop(st);
            self.changed.notify_waiters();
            return true;
        }
        let from_timers = st.timers.keys().next().map(|(t, _)| *t);
        let next = match (from_timers, from_sources) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => return false,
        };
        if let Some(limit) = limit
            && next > limit
        {
            vclock.advance_to(limit.max(now));
            return true;
        }
        let target = next.max(now);
        // What outside sources do at an instant comes before the timers due
        // then: the clock moves, the actors take their turn, and the timers
        // fire on the next step (an event at T beats a timeout at T).
        if from_sources == Some(target) && target > now && from_timers == Some(target) {
            vclock.advance_to(target);
            if Self::wake_actors(&mut st) {
                drop(st);
                self.changed.notify_waiters();
                return true;
            }
        }
        vclock.advance_to(target);
        let target = self.clock.now();
        while let Some(entry) = st.timers.first_entry() {
            if entry.key().0 > target {
                break;
            }
            let timer = entry.remove();
            if let Some(slot) = st.execs.get_mut(&timer.exec) {
                slot.wakeups += 1;
            }
            let _ = timer.tx.send(());
        }
        Self::wake_actors(&mut st);
        drop(st);
        self.changed.notify_waiters();
        true
    }

    /// Wakes every driver (e.g. after a change that may complete a wait).
    pub fn notify(&self) {
        self.changed.notify_waiters();
    }
}

struct FlagsInner {
    sched: Arc<Scheduler>,
    id: u64,
    /// Set by an [`Idle`] future that returned `Pending` during this poll.
    mark: AtomicBool,
}

/// An execution's registration with the scheduler. Cloned into everything
/// that waits on its behalf (task contexts); unregistered when the
/// [`ExecTask`] ends.
#[derive(Clone)]
pub(crate) struct ExecFlags {
    inner: Arc<FlagsInner>,
}

impl ExecFlags {
    pub fn id(&self) -> u64 {
        self.inner.id
    }

    pub fn scheduler(&self) -> &Arc<Scheduler> {
        &self.inner.sched
    }

    pub fn sleep_until(&self, deadline: Timestamp) -> Sleep {
        self.inner.sched.sleep_until(self.inner.id, deadline)
    }

    /// Wraps a wait on time or on an outside signal: while only such waits
    /// are pending, the execution is idle and virtual time may advance.
    pub fn idle<F: Future>(&self, future: F) -> Idle<F> {
        Idle {
            future: Box::pin(future),
            flags: self.clone(),
            armed: false,
        }
    }

    /// Polls branches of this execution side by side (an inline Map's
    /// iterations) until one ends: the first that is ready, by position,
    /// with its output. While all are pending, the execution is idle only
    /// if every branch is waiting in an [`Idle`] future.
    pub fn first_of<'a, T>(&self, branches: &'a mut [Branch<T>]) -> FirstOf<'a, T> {
        FirstOf {
            branches,
            flags: self.clone(),
        }
    }
}

/// One branch of an execution run side by side with others.
pub(crate) type Branch<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// See [`ExecFlags::first_of`].
pub(crate) struct FirstOf<'a, T> {
    branches: &'a mut [Branch<T>],
    flags: ExecFlags,
}

impl<T> Future for FirstOf<'_, T> {
    type Output = (usize, T);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<(usize, T)> {
        let mut all_idle = true;
        let flags = self.flags.clone();
        for (n, branch) in self.branches.iter_mut().enumerate() {
            flags.inner.mark.store(false, Ordering::SeqCst);
            if let Poll::Ready(output) = branch.as_mut().poll(cx) {
                return Poll::Ready((n, output));
            }
            all_idle &= flags.inner.mark.load(Ordering::SeqCst);
        }
        flags.inner.mark.store(all_idle, Ordering::SeqCst);
        Poll::Pending
    }
}

/// The future of one execution, reporting idleness to the scheduler.
pub(crate) struct ExecTask {
    future: Pin<Box<dyn Future<Output = ()> + Send>>,
    flags: ExecFlags,
    finished: bool,
}

impl ExecTask {
    pub fn new(flags: ExecFlags, future: impl Future<Output = ()> + Send + 'static) -> ExecTask {
        ExecTask {
            future: Box::pin(future),
            flags,
            finished: false,
        }
    }
}

impl Future for ExecTask {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let sched = self.flags.inner.sched.clone();
        let id = self.flags.inner.id;
        sched.begin_poll(id);
        self.flags.inner.mark.store(false, Ordering::SeqCst);
        match self.future.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.finished = true;
                sched.unregister(id);
                Poll::Ready(())
            }
            Poll::Pending => {
                let idle = self.flags.inner.mark.load(Ordering::SeqCst);
                sched.end_poll(id, idle);
                Poll::Pending
            }
        }
    }
}

impl Drop for ExecTask {
    fn drop(&mut self) {
        if !self.finished {
            self.flags.inner.sched.unregister(self.flags.inner.id);
        }
    }
}

/// See [`ExecFlags::idle`].
pub(crate) struct Idle<F> {
    future: Pin<Box<F>>,
    flags: ExecFlags,
    armed: bool,
}

impl<F: Future> Future for Idle<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        match self.future.as_mut().poll(cx) {
            Poll::Ready(v) => {
                self.armed = false;
                Poll::Ready(v)
            }
            Poll::Pending => {
                self.armed = true;
                self.flags.inner.mark.store(true, Ordering::SeqCst);
                Poll::Pending
            }
        }
    }
}

impl<F> Drop for Idle<F> {
    fn drop(&mut self) {
        if self.armed {
            self.flags.inner.mark.store(false, Ordering::SeqCst);
        }
    }
}

enum SleepInner {
    Done,
    Real(Pin<Box<tokio::time::Sleep>>),
    Virtual {
        rx: oneshot::Receiver<()>,
        key: (Timestamp, u64),
        sched: Arc<Scheduler>,
    },
}

/// A timer on the scheduler's clock.
pub(crate) struct Sleep {
    inner: SleepInner,
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match &mut self.inner {
            SleepInner::Done => Poll::Ready(()),
            SleepInner::Real(sleep) => sleep.as_mut().poll(cx),
            SleepInner::Virtual { rx, .. } => match Pin::new(rx).poll(cx) {
                // A dropped sender means the execution was unregistered:
                // nothing will ever fire, so stay pending.
                Poll::Ready(Ok(())) => {
                    self.inner = SleepInner::Done;
                    Poll::Ready(())
                }
                Poll::Ready(Err(_)) | Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let SleepInner::Virtual { key, sched, .. } = &self.inner {
            sched.lock().timers.remove(key);
        }
    }
}

/// Sleeps until `deadline` if there is one, or forever.
pub(crate) async fn sleep_opt(flags: &ExecFlags, deadline: Option<Timestamp>) {
    match deadline {
        Some(d) => flags.sleep_until(d).await,
        None => std::future::pending::<()>().await,
    }
}
