//! Sync for the desktop console: the business's change log pulled by cursor ([`log`]), and the
//! mutations a console pushes ([`push`]), each applied by its own module in [`mutations`].
//!
//! The log holds one row per entity with its latest state (or a tombstone), numbered by a
//! per-business seq that is gap-free and in commit order (see `store`), so "everything after my
//! cursor, in seq order" is exactly what a console is missing. Tombstones are compacted away after
//! a while (by a background job); a console whose cursor is older than the compaction horizon
//! might have missed a deletion and gets `resync_required`: it wipes its mirror (never its outbox)
//! and pulls from 0. A console is sent only what its person may read through the API; after a
//! role change (the next welcome carries the new permissions) it reloads the same way. When what
//! the service ships about a kind grows, [`republish`] writes its rows to the log again.

pub mod log;
pub mod mutations;
pub mod push;
pub mod republish;

pub use log::{compact, compact_all, pull};
pub use push::push;

/// A device id as consoles make them: letters, digits and `-`, 1 to 64 of them.
pub fn valid_client_id(client_id: &str) -> bool {
    !client_id.is_empty() && client_id.len() <= 64 && client_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}
