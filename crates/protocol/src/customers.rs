//! Customers: the people who write and call.

use crate::ids::{BusinessId, CustomerId};
use crate::{patch, Timestamp};

wire! {
    #[derive(PartialEq)]
    pub struct Customer {
        pub id: CustomerId,
        pub business_id: BusinessId,
        pub name: Option<String>,
        /// E.164, e.g. `+447911123456`.
        pub phone: Option<String>,
        pub whatsapp_id: Option<String>,
        pub email: Option<String>,
        pub tags: Vec<String>,
        pub notes: String,
        pub opted_out_sms: bool,
        pub opted_out_whatsapp: bool,
        pub created_at: Timestamp,
        pub updated_at: Timestamp,
    }
}

request! {
    #[derive(Default, PartialEq)]
    pub struct CreateCustomer {
        pub name: Option<String>,
        /// Any common format; national numbers are read in the business's country when it can be
        /// told from its time zone. Stored as E.164.
        pub phone: Option<String>,
        pub whatsapp_id: Option<String>,
        pub email: Option<String>,
        #[serde(default)]
        pub tags: Vec<String>,
        #[serde(default)]
        pub notes: String,
    }
}

request! {
    /// Fields left out are unchanged; `null` clears an optional field.
    #[derive(Default, PartialEq)]
    pub struct UpdateCustomer {
        #[serde(default, deserialize_with = "patch::field")]
        #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
        pub name: Option<Option<String>>,
        #[serde(default, deserialize_with = "patch::field")]
        #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
        pub phone: Option<Option<String>>,
        #[serde(default, deserialize_with = "patch::field")]
        #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
        pub whatsapp_id: Option<Option<String>>,
        #[serde(default, deserialize_with = "patch::field")]
        #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
        pub email: Option<Option<String>>,
        pub tags: Option<Vec<String>>,
        pub notes: Option<String>,
        pub opted_out_sms: Option<bool>,
        pub opted_out_whatsapp: Option<bool>,
    }
}
