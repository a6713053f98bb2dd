//! Where a script run is scheduled: the queue runs wait in for a worker,
//! fair between traders. Traders take turns, one run each; one trader's
//! runs hold at most `user_workers` workers at once, so a trader who floods
//! the queue or submits endless loops delays only themselves; and each
//! trader may have at most `user_queue` runs waiting, past which a run is
//! refused at once. Chart runs and backtests wait in the same queue (the
//! pool bounds how many backtests may be in it at once).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Instant;

use tokio::sync::{OwnedSemaphorePermit, oneshot};
use uuid::Uuid;
use worker_protocol::{BacktestReport, Job, Report, RunError, Verdict};

/// A run waiting for a worker.
pub struct Pending {
    pub user: Uuid,
    pub job: Job,
    pub reply: Reply,
    pub queued_at: Instant,
}

/// Where a run's outcome goes, judged as its kind of run is.
pub enum Reply {
    Chart(oneshot::Sender<Report>),
    /// A backtest holds its lane (see the pool) until it has been answered,
    /// also when whoever asked for it has gone.
    Backtest {
        reply: oneshot::Sender<BacktestReport>,
        lane: OwnedSemaphorePermit,
    },
}

impl Reply {
    /// Judges what the worker answered for `job` (`worker_protocol::judge`)
    /// and sends it on, the wait before the run counted in its time.
    /// Answers whether the run ended in an error.
    pub fn judge(self, job: &Job, verdict: &Verdict, child_bytes: &[u8], waited_ms: u64) -> bool {
        match self {
            Reply::Chart(reply) => {
                let mut report = worker_protocol::judge::report(job, verdict, child_bytes);
                report.wall_ms += waited_ms;
                let failed = report.result.is_err();
                let _ = reply.send(report);
                failed
            }
            Reply::Backtest { reply, lane } => {
                let mut report = worker_protocol::judge::backtest(job, verdict, child_bytes);
                drop(lane);
                report.wall_ms += waited_ms;
                let failed = report.result.is_err();
                let _ = reply.send(report);
                failed
            }
        }
    }

    /// Answers that the run did not happen, or ended, for `error`.
    pub fn fail(self, error: RunError, wall_ms: u64) {
        match self {
            Reply::Chart(reply) => {
                let _ = reply.send(Report {
                    result: Err(error),
                    log: String::new(),
                    cpu_ms: 0,
                    wall_ms,
                });
            }
            Reply::Backtest { reply, .. } => {
                let _ = reply.send(BacktestReport {
                    result: Err(error),
                    log: String::new(),
                    cpu_ms: 0,
                    wall_ms,
                });
            }
        }
    }

    pub fn is_backtest(&self) -> bool {
        matches!(self, Reply::Backtest { .. })
    }

    /// Whether nobody waits for this backtest any more (a chart run is
    /// always run: its caller records it).
    pub fn abandoned_backtest(&self) -> bool {
        matches!(self, Reply::Backtest { reply, .. } if reply.is_closed())
    }
}

/// Users take turns; see the module policy.
#[derive(Default)]
pub struct FairQueue {
    users: HashMap<Uuid, UserQueue>,
    /// Users with waiting runs, in turn order.
    turns: VecDeque<Uuid>,
}

#[derive(Default)]
struct UserQueue {
    waiting: VecDeque<Pending>,
    running: usize,
}

impl FairQueue {
    /// Queues the run unless its user has `max_waiting` runs waiting
    /// already; answers whether it did.
    pub fn push(&mut self, pending: Pending, max_waiting: usize) -> bool {
        let user = pending.user;
        let queue = self.users.entry(user).or_default();
        if queue.waiting.len() >= max_waiting {
            return false;
        }
        queue.waiting.push_back(pending);
        if queue.waiting.len() == 1 {
            self.turns.push_back(user);
        }
        true
    }

    /// The next run, from the first user in turn who may start one more.
    pub fn pop(&mut self, max_running: usize) -> Option<Pending> {
        for _ in 0..self.turns.len() {
            let user = self.turns.pop_front()?;
            let Some(queue) = self.users.get_mut(&user) else {
                continue;
            };
            if queue.running >= max_running {
                self.turns.push_back(user);
                continue;
            }
            let pending = queue.waiting.pop_front()?;
            queue.running += 1;
            if !queue.waiting.is_empty() {
                self.turns.push_back(user);
            }
            return Some(pending);
        }
        None
    }

    pub fn finished(&mut self, user: Uuid) {
        if let Some(queue) = self.users.get_mut(&user) {
            queue.running = queue.running.saturating_sub(1);
            if queue.running == 0 && queue.waiting.is_empty() {
                self.users.remove(&user);
            }
        }
    }

    pub fn drain(&mut self) -> Vec<Pending> {
        self.turns.clear();
        self.users
            .values_mut()
            .flat_map(|queue| queue.waiting.drain(..))
            .collect()
    }

    pub fn waiting(&self) -> usize {
        self.users.values().map(|queue| queue.waiting.len()).sum()
    }
}

pub fn lock(queue: &Mutex<FairQueue>) -> std::sync::MutexGuard<'_, FairQueue> {
    queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(user: Uuid) -> (Pending, oneshot::Receiver<Report>) {
        let (reply, answer) = oneshot::channel();
        let reply = Reply::Chart(reply);
        let job = Job {
            source: String::new(),
            candles: Default::default(),
            limits: Default::default(),
            mode: Default::default(),
        };
        (
            Pending {
                user,
                job,
                reply,
                queued_at: Instant::now(),
            },
            answer,
        )
    }

    #[test]
    fn users_take_turns_and_hold_at_most_their_share_of_workers() {
        let (flood, quiet) = (Uuid::new_v4(), Uuid::new_v4());
        let mut queue = FairQueue::default();
        for _ in 0..3 {
            assert!(queue.push(pending(flood).0, 3));
        }
        // Past the per-user quota, a run is refused.
        assert!(!queue.push(pending(flood).0, 3));
        assert!(queue.push(pending(quiet).0, 3));

        // One worker each at most: the flooder's first run, then the quiet
        // user's, though the flooder queued first.
        assert_eq!(queue.pop(1).map(|p| p.user), Some(flood));
        assert_eq!(queue.pop(1).map(|p| p.user), Some(quiet));
        // The flooder holds their one worker: nothing more may start.
        assert!(queue.pop(1).is_none());
        queue.finished(flood);
        assert_eq!(queue.pop(1).map(|p| p.user), Some(flood));
        assert_eq!(queue.waiting(), 1);
        assert_eq!(queue.drain().len(), 1);
    }
}
