//! Background work: every job the service does on its own (webhook processing, sending, assistant
//! turns, the hand-back timer, tombstone compaction, republishing synced rows, automated messages
//! that are due) is a [`step`] of one runtime.
//!
//! - A step does what is due *now* (by the core's clock) and says how much it did. [`run`] loops
//!   each job: straight on while there was work, otherwise it waits for a wake-up (a commit that
//!   queued work, here or on another instance) or the job's poll interval.
//! - Several instances on one PostgreSQL share the work: queued rows (webhook events, outbox
//!   messages, assistant turns) are claimed with leases (`FOR UPDATE SKIP LOCKED`), and jobs that
//!   one instance at a time should run (compaction) take a lease in `worker_leases`.
//! - Tests use a test clock and [`drain`]: every job, step after step, until none has anything to
//!   do. Nothing sleeps to let time pass; "a day later" is `clock.advance(...)` then `drain`.

use std::time::Duration;

use tokio::sync::{watch, Notify};

use crate::error::Error;
use crate::Core;

/// The kinds of background work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Job {
    /// Stored webhooks become customers, conversations and messages.
    Intake,
    /// Queued messages go to the providers.
    Outbox,
    /// The assistant answers customers.
    Assistant,
    /// Conversations a person went quiet in go back to the assistant.
    Handback,
    /// Old tombstones leave the change log.
    Compaction,
    /// Synced rows whose shape grew are published again (after a migration lists them).
    Republish,
    /// Confirmations, reminders, text-backs and follow-ups that are due.
    Automations,
    /// Google Calendar: bookings written, chosen calendars read, push channels renewed.
    Calendar,
    /// Each owner's weekly summary is queued as mail (Monday 08:00 local, for the week before).
    WeeklySummary,
    /// Queued mail goes to the SMTP server.
    Mail,
    /// Each business's retention policy, daily.
    Retention,
}

impl Job {
    pub const ALL: [Job; 11] = [
        Job::Intake,
        Job::Automations,
        Job::Outbox,
        Job::Assistant,
        Job::Handback,
        Job::Compaction,
        Job::Republish,
        Job::Calendar,
        Job::WeeklySummary,
        Job::Mail,
        Job::Retention,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Job::Intake => "intake",
            Job::Outbox => "outbox",
            Job::Assistant => "assistant",
            Job::Handback => "handback",
            Job::Compaction => "compaction",
            Job::Republish => "republish",
            Job::Automations => "automations",
            Job::Calendar => "calendar",
            Job::WeeklySummary => "weekly_summary",
            Job::Mail => "mail",
            Job::Retention => "retention",
        }
    }

    pub fn parse(text: &str) -> Option<Job> {
        Job::ALL.into_iter().find(|j| j.as_str() == text)
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// One wake-up per job: "there may be work for you now".
#[derive(Default)]
pub struct Wakeups {
    jobs: [Notify; Job::ALL.len()],
}

impl Wakeups {
    pub fn wake(&self, job: Job) {
        self.jobs[job.index()].notify_one();
    }

    pub fn notify(&self, jobs: &[Job]) {
        for job in jobs {
            self.wake(*job);
        }
    }

    pub fn notified(&self, job: Job) -> tokio::sync::futures::Notified<'_> {
        self.jobs[job.index()].notified()
    }
}

impl Job {
    /// How often the job looks for work when nothing woke it (other instances' work arrives by
    /// wake-up too; this is the safety net, and what makes timed work happen).
    fn poll(self, core: &Core) -> Duration {
        match self {
            Job::Intake => Duration::from_secs(1),
            Job::Outbox => Duration::from_millis(250),
            Job::Assistant => Duration::from_millis(200),
            Job::Handback => Duration::from_millis(core.config.handback_check_ms),
            Job::Compaction => Duration::from_secs(3600),
            Job::Republish => Duration::from_secs(3600),
            // Reminders are due to the minute; a minute's poll is the safety net.
            Job::Automations => Duration::from_secs(15),
            Job::Calendar => Duration::from_secs(5),
            // Due once a week per owner; ten minutes late is on time.
            Job::WeeklySummary => Duration::from_secs(600),
            Job::Mail => Duration::from_secs(5),
            Job::Retention => Duration::from_secs(3600),
        }
    }
}

/// One step of `job`: what is due now. Returns how many things it handled.
pub async fn step(core: &Core, job: Job) -> Result<usize, Error> {
    match job {
        Job::Intake => crate::intake::process_due(core).await,
        Job::Outbox => Ok(crate::sending::send_due(core).await?),
        Job::Assistant => crate::assistant::run_due(core).await,
        Job::Handback => crate::conversations::takeover::hand_back_idle(core).await,
        Job::Automations => crate::automations::run_due(core).await,
        Job::Compaction => {
            if !lease(core, job, Duration::from_secs(600)).await? {
                return Ok(0);
            }
            Ok(crate::sync::compact_all(&core.db).await? as usize)
        }
        Job::Republish => {
            if !lease(core, job, Duration::from_secs(600)).await? {
                return Ok(0);
            }
            crate::sync::republish::step(core).await
        }
        Job::Calendar => crate::scheduling::google::step(core).await,
        Job::WeeklySummary => crate::reports::weekly::queue_due(core).await,
        Job::Mail => crate::mail::send_due(core).await,
        Job::Retention => {
            if !lease(core, job, Duration::from_secs(600)).await? {
                return Ok(0);
            }
            crate::privacy::retention::run_due(core).await
        }
    }
}

/// Takes (or renews) the lease on a job that one instance at a time runs. `false`: another
/// instance holds it.
pub async fn lease(core: &Core, job: Job, ttl: Duration) -> Result<bool, Error> {
    let db = &core.db;
    let now = db.now_ms();
    let until = now + ttl.as_millis() as i64;
    sqlx::query("INSERT INTO worker_leases (job, holder, until) VALUES ($1, $2, 0) ON CONFLICT (job) DO NOTHING")
        .bind(job.as_str())
        .bind(db.instance())
        .execute(db.writer())
        .await?;
    let taken = sqlx::query("UPDATE worker_leases SET holder = $1, until = $2 WHERE job = $3 AND (until < $4 OR holder = $1)")
        .bind(db.instance())
        .bind(until)
        .bind(job.as_str())
        .bind(now)
        .execute(db.writer())
        .await?
        .rows_affected();
    Ok(taken == 1)
}

/// Runs every job until none has anything to do now; returns how much was done. A job's step
/// can queue work for another (a webhook queues an assistant turn, which queues a send), so this
/// goes round until a whole round did nothing.
pub async fn drain(core: &Core) -> Result<usize, Error> {
    let mut total = 0;
    loop {
        let mut round = 0;
        for job in Job::ALL {
            loop {
                let done = step(core, job).await?;
                round += done;
                if done == 0 {
                    break;
                }
            }
        }
        total += round;
        if round == 0 {
            return Ok(total);
        }
    }
}

/// Runs every job in the background until `stop` flips.
pub fn spawn(core: &Core, stop: watch::Receiver<bool>) -> Vec<tokio::task::JoinHandle<()>> {
    Job::ALL.into_iter().map(|job| tokio::spawn(run(core.clone(), job, stop.clone()))).collect()
}

async fn run(core: Core, job: Job, mut stop: watch::Receiver<bool>) {
    loop {
        match step(&core, job).await {
            Ok(done) if done > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::error!(job = job.as_str(), error = %e.chain(), "a background job failed; it will try again"),
        }
        // A test clock does not move on its own: wait for work to be handed over instead.
        let poll = if core.db.clock().is_manual() { Duration::from_secs(3600) } else { job.poll(&core) };
        tokio::select! {
            _ = core.db.wakeups().notified(job) => {}
            _ = tokio::time::sleep(poll) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Capped exponential backoff with ±25% jitter, so retries of many rows do not march in step.
pub fn backoff_ms(attempt: i64, base_ms: u64, cap_ms: u64) -> i64 {
    use rand::Rng;
    let exp = base_ms.saturating_mul(1u64 << attempt.clamp(0, 20).saturating_sub(1) as u32).min(cap_ms);
    let jitter = rand::thread_rng().gen_range(0.75..1.25);
    (exp as f64 * jitter) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let samples: Vec<i64> = (1..=12).map(|a| backoff_ms(a, 1000, 60_000)).collect();
        assert!((750..=1250).contains(&samples[0]), "{samples:?}");
        assert!((1500..=2500).contains(&samples[1]), "{samples:?}");
        assert!(samples.iter().all(|s| *s <= 75_000), "{samples:?}");
        assert!((45_000..=75_000).contains(&samples[11]), "capped: {samples:?}");
    }
}
