//! Data protection: what the service holds about a customer and what it does with it on request.
//!
//! - [`schema`]: which columns can hold personal data, read from the migrations' annotations;
//!   [`subject`]: one customer and the rows about them.
//! - [`export`]: a customer (or the whole business) as a ZIP; [`erase`]: a customer removed;
//!   [`retention`]: the business's policy, its dry run and the daily job; [`purge`]: conversations
//!   deleted with everything hanging off them (both erasure and retention use it).

pub mod schema;
pub mod erase;
pub mod export;
pub mod purge;
pub mod retention;
pub mod subject;
