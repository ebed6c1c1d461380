//! Data protection: what the service holds about a customer and what it does with it on request.
//!
//! - [`schema`]: which columns can hold personal data, read from the migrations' annotations.

pub mod schema;
