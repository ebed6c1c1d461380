//! The one place the core reads the time. Production uses the system's clock; tests use a
//! [`TestClock`] they move by hand, so "a day later" is one call and nothing in a test sleeps to
//! let time pass. Ids are made here too (UUIDv7 carries the time it was made).

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use protocol::Timestamp;
use uuid::{ContextV7, Uuid};

pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since the epoch.
    fn now_ms(&self) -> i64;

    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.now_ms()).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    /// `true` for a clock that only moves when a test moves it: background runners then wait for
    /// work to be handed to them instead of for time to pass.
    fn is_manual(&self) -> bool {
        false
    }
}

/// The system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        jiff::Timestamp::now().as_millisecond()
    }
}

/// A clock that stands still until told to move.
#[derive(Debug)]
pub struct TestClock {
    ms: AtomicI64,
}

impl TestClock {
    pub fn at(start: Timestamp) -> TestClock {
        TestClock { ms: AtomicI64::new(start.as_millis()) }
    }

    /// Starts at the system's time now (tests that talk to real calendars and providers).
    pub fn starting_now() -> TestClock {
        TestClock::at(SystemClock.now())
    }

    pub fn advance(&self, by: Duration) {
        self.ms.fetch_add(i64::try_from(by.as_millis()).unwrap_or(i64::MAX), Ordering::SeqCst);
    }

    pub fn set(&self, to: Timestamp) {
        self.ms.store(to.as_millis(), Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now_ms(&self) -> i64 {
        self.ms.load(Ordering::SeqCst)
    }

    fn is_manual(&self) -> bool {
        true
    }
}

/// Shared by every id this process makes, so ids made in the same millisecond still sort in the
/// order they were made.
static IDS: std::sync::Mutex<ContextV7> = std::sync::Mutex::new(ContextV7::new());

/// A new UUIDv7 for the clock's now: unique, and sortable by creation.
pub fn new_id(clock: &dyn Clock) -> String {
    let ms = clock.now_ms().max(0) as u64;
    let context = IDS.lock().unwrap_or_else(|e| e.into_inner());
    let ts = uuid::Timestamp::from_unix(&*context, ms / 1000, ((ms % 1000) * 1_000_000) as u32);
    Uuid::new_v7(ts).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_clock_moves_only_when_told() {
        let clock = TestClock::at(Timestamp::from_millis(1_000).unwrap());
        assert_eq!(clock.now_ms(), 1_000);
        clock.advance(Duration::from_secs(2));
        assert_eq!(clock.now_ms(), 3_000);
    }

    #[test]
    fn ids_made_in_one_millisecond_keep_their_order() {
        let clock = TestClock::at(Timestamp::from_millis(1_700_000_000_000).unwrap());
        let ids: Vec<String> = (0..1000).map(|_| new_id(&clock)).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
        assert!(ids[0].starts_with("018bcfe5-6800-7"), "{}", ids[0]);
    }
}
