//! What the business offers: services (what can be booked) and canned responses (what staff
//! often write).

use crate::ids::{BusinessId, CannedResponseId, ServiceId, StaffId};
use crate::{patch, Timestamp};

wire! {
    #[derive(PartialEq)]
    pub struct Service {
        pub id: ServiceId,
        pub business_id: BusinessId,
        pub name: String,
        pub duration_minutes: u32,
        /// In the currency's minor unit (cents).
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        pub price_cents: i64,
        pub buffer_before_minutes: u32,
        pub buffer_after_minutes: u32,
        pub active: bool,
        /// Who can perform it; empty means every bookable staff member.
        pub staff_ids: Vec<StaffId>,
        /// Overrides of the business's booking rules for this service (`null`: the business's).
        pub min_notice_minutes: Option<u32>,
        pub max_advance_days: Option<u32>,
        pub slot_interval_minutes: Option<u32>,
        pub created_at: Timestamp,
        pub updated_at: Timestamp,
    }
}

request! {
    pub struct CreateService {
        pub name: String,
        pub duration_minutes: u32,
        #[serde(default)]
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        pub price_cents: i64,
        #[serde(default)]
        pub buffer_before_minutes: u32,
        #[serde(default)]
        pub buffer_after_minutes: u32,
        #[serde(default = "crate::yes")]
        pub active: bool,
        #[serde(default)]
        pub staff_ids: Vec<StaffId>,
        pub min_notice_minutes: Option<u32>,
        pub max_advance_days: Option<u32>,
        pub slot_interval_minutes: Option<u32>,
    }
}


request! {
    #[derive(Default)]
    pub struct UpdateService {
        pub name: Option<String>,
        pub duration_minutes: Option<u32>,
        #[cfg_attr(feature = "ts", ts(type = "number | null"))]
        pub price_cents: Option<i64>,
        pub buffer_before_minutes: Option<u32>,
        pub buffer_after_minutes: Option<u32>,
        pub active: Option<bool>,
        pub staff_ids: Option<Vec<StaffId>>,
        #[serde(default, deserialize_with = "patch::field")]
        #[cfg_attr(feature = "openapi", schema(value_type = Option<u32>))]
        pub min_notice_minutes: Option<Option<u32>>,
        #[serde(default, deserialize_with = "patch::field")]
        #[cfg_attr(feature = "openapi", schema(value_type = Option<u32>))]
        pub max_advance_days: Option<Option<u32>>,
        #[serde(default, deserialize_with = "patch::field")]
        #[cfg_attr(feature = "openapi", schema(value_type = Option<u32>))]
        pub slot_interval_minutes: Option<Option<u32>>,
    }
}

wire! {
    #[derive(PartialEq)]
    pub struct CannedResponse {
        pub id: CannedResponseId,
        pub business_id: BusinessId,
        /// What staff type after `/` in the composer, e.g. `hours`.
        pub shortcut: String,
        pub title: String,
        pub body: String,
        pub created_at: Timestamp,
        pub updated_at: Timestamp,
    }
}

request! {
    pub struct CreateCannedResponse {
        pub shortcut: String,
        pub title: String,
        pub body: String,
    }
}

request! {
    #[derive(Default)]
    pub struct UpdateCannedResponse {
        pub shortcut: Option<String>,
        pub title: Option<String>,
        pub body: Option<String>,
    }
}
