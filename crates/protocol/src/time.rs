//! Instants on the wire: RFC 3339 in UTC (`2026-11-22T09:30:00Z`, with milliseconds when there
//! are any). The business's IANA time zone travels with the business, so clients render local
//! times themselves. Stored as milliseconds since the epoch.

/// An instant, e.g. `2026-11-22T09:30:00Z` on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export, type = "string"))]
pub struct Timestamp(jiff::Timestamp);

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Timestamp {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))).into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Timestamp {}

/// Milliseconds that are not an instant jiff can represent (beyond the year ±9999).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0} ms is outside the range of instants")]
pub struct OutOfRange(pub i64);

impl Timestamp {
    pub const UNIX_EPOCH: Timestamp = Timestamp(jiff::Timestamp::UNIX_EPOCH);

    pub fn from_millis(ms: i64) -> Result<Timestamp, OutOfRange> {
        jiff::Timestamp::from_millisecond(ms).map(Timestamp).map_err(|_| OutOfRange(ms))
    }

    pub fn as_millis(self) -> i64 {
        self.0.as_millisecond()
    }

    pub fn as_jiff(self) -> jiff::Timestamp {
        self.0
    }
}

impl From<jiff::Timestamp> for Timestamp {
    fn from(t: jiff::Timestamp) -> Self {
        // Stored and sent to the millisecond.
        Timestamp(jiff::Timestamp::from_millisecond(t.as_millisecond()).unwrap_or(t))
    }
}

impl From<Timestamp> for jiff::Timestamp {
    fn from(t: Timestamp) -> Self {
        t.0
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for Timestamp {
    type Err = jiff::Error;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        text.parse::<jiff::Timestamp>().map(Timestamp::from)
    }
}

/// A column of milliseconds since the epoch.
#[cfg(feature = "sqlx")]
mod column {
    use super::Timestamp;
    use sqlx::error::BoxDynError;
    use sqlx::{Database, Decode, Encode, Type};

    impl<DB: Database> Type<DB> for Timestamp
    where
        i64: Type<DB>,
    {
        fn type_info() -> DB::TypeInfo {
            <i64 as Type<DB>>::type_info()
        }

        fn compatible(ty: &DB::TypeInfo) -> bool {
            <i64 as Type<DB>>::compatible(ty)
        }
    }

    impl<'r, DB: Database> Decode<'r, DB> for Timestamp
    where
        i64: Decode<'r, DB>,
    {
        fn decode(value: <DB as Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
            Ok(Timestamp::from_millis(<i64 as Decode<DB>>::decode(value)?)?)
        }
    }

    impl<'q, DB: Database> Encode<'q, DB> for Timestamp
    where
        i64: Encode<'q, DB>,
    {
        fn encode_by_ref(&self, buf: &mut <DB as Database>::ArgumentBuffer<'q>) -> Result<sqlx::encode::IsNull, BoxDynError> {
            <i64 as Encode<DB>>::encode_by_ref(&self.as_millis(), buf)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_on_the_wire_milliseconds_inside() {
        let t = Timestamp::from_millis(1_795_000_000_000).unwrap();
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"2026-11-18T11:06:40Z\"");
        let with_ms = Timestamp::from_millis(1_795_000_000_123).unwrap();
        assert_eq!(with_ms.to_string(), "2026-11-18T11:06:40.123Z");
        let back: Timestamp = serde_json::from_str("\"2026-11-18T11:06:40.123Z\"").unwrap();
        assert_eq!(back.as_millis(), 1_795_000_000_123);
        assert!(Timestamp::from_millis(i64::MAX).is_err());
        assert!(serde_json::from_str::<Timestamp>("\"yesterday\"").is_err());
    }
}
