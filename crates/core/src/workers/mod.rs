//! Background work: every job the service does on its own (webhook processing, sending, assistant
//! turns, the hand-back timer, tombstone compaction) is a step of one runtime. See
//! [`runtime`](self) for how steps are woken, leased across instances and drained in tests.

use tokio::sync::Notify;

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
}

impl Job {
    pub const ALL: [Job; 5] = [Job::Intake, Job::Outbox, Job::Assistant, Job::Handback, Job::Compaction];

    pub fn as_str(self) -> &'static str {
        match self {
            Job::Intake => "intake",
            Job::Outbox => "outbox",
            Job::Assistant => "assistant",
            Job::Handback => "handback",
            Job::Compaction => "compaction",
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
    jobs: [Notify; 5],
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
