//! Wire types shared by `switchboard-cloud` and the `switchboard` desktop console.
//!
//! Everything that crosses the network between the two programs is defined here once, by area:
//! [`accounts`], [`business`] (staff, invitations, audit log), [`customers`], [`catalog`]
//! (services, canned responses), [`conversations`] (messages, notes, calls), [`scheduling`],
//! [`channels`], [`assistant`] and [`sync`] (changes, mutations, WebSocket frames); [`error`]
//! holds the error envelope and its stable codes. Everything is re-exported at the top, so
//! `protocol::Booking` works wherever it lives.
//!
//! Ids are their own types ([`ids`]: a [`CustomerId`] is not a [`BookingId`]) but plain strings on
//! the wire; times are [`Timestamp`]s, RFC 3339 in UTC. Request bodies refuse unknown fields.
//! Features: `openapi` derives the OpenAPI schemas (the service), `ts` the TypeScript types (the
//! console's UI), `sqlx` lets ids and timestamps be bound and read as columns.

#[macro_use]
mod macros;

pub mod accounts;
pub mod assistant;
pub mod automations;
pub mod business;
pub mod calendar;
pub mod catalog;
pub mod channels;
pub mod conversations;
pub mod customers;
pub mod error;
pub mod ids;
pub mod reports;
pub mod scheduling;
pub mod sync;
pub mod time;

pub use accounts::*;
pub use assistant::*;
pub use automations::*;
pub use business::*;
pub use calendar::*;
pub use catalog::*;
pub use channels::*;
pub use conversations::*;
pub use customers::*;
pub use error::*;
pub use ids::*;
pub use reports::*;
pub use scheduling::*;
pub use sync::*;
pub use time::*;

wire! {
    /// `/healthz` answer.
    pub struct Health {
        pub status: String,
        pub database: String,
        pub version: String,
    }
}

/// `#[serde(default = "crate::yes")]`.
pub(crate) fn yes() -> bool {
    true
}

/// Deserialising PATCH fields where "absent" and "null" mean different things.
pub mod patch {
    use serde::{Deserialize, Deserializer};

    /// Absent → `None` (via `#[serde(default)]`), `null` → `Some(None)`, value → `Some(Some(v))`.
    pub fn field<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
    where
        T: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        Option::<T>::deserialize(deserializer).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_round_trip_through_their_text_form() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(*role));
            let json = serde_json::to_string(role).unwrap();
            assert_eq!(json, format!("\"{}\"", role.as_str()));
        }
        for mode in ControlMode::ALL {
            assert_eq!(ControlMode::parse(mode.as_str()), Some(*mode));
        }
        assert_eq!(ControlMode::parse("robot"), None);
    }

    #[test]
    fn patch_tells_absent_from_null() {
        let absent: UpdateCustomer = serde_json::from_str("{}").unwrap();
        assert_eq!(absent.email, None);
        let null: UpdateCustomer = serde_json::from_str(r#"{"email":null}"#).unwrap();
        assert_eq!(null.email, Some(None));
        let set: UpdateCustomer = serde_json::from_str(r#"{"email":"a@b.c"}"#).unwrap();
        assert_eq!(set.email, Some(Some("a@b.c".into())));
    }

    #[test]
    fn request_bodies_refuse_unknown_fields() {
        let err = serde_json::from_str::<CreateNote>(r#"{"body":"x","colour":"red"}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field"));
    }
}
