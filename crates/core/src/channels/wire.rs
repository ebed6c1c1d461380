//! Reading what providers send, whichever provider: JSON without the NUL characters PostgreSQL
//! refuses in text (a customer's message must land even if their phone put one in it), and the
//! two kinds of leniency every provider's wire types use — lists read item by item, so one item
//! that does not fit its documented shape never costs the others, and optional parts that are
//! left out when they do not fit. Each provider's own shapes are in its `wire` module.

use serde::de::{DeserializeOwned, Deserializer};
use serde::Deserialize;
use serde_json::Value;

/// A provider's JSON body as its wire type, with NUL characters taken out of every string.
pub fn from_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, serde_json::Error> {
    let mut value: Value = serde_json::from_slice(body)?;
    strip_nul(&mut value);
    serde_json::from_value(value)
}

/// Text a provider sent, without NUL characters.
pub fn without_nul(text: &str) -> String {
    text.replace('\0', "")
}

fn strip_nul(value: &mut Value) {
    match value {
        Value::String(text) if text.contains('\0') => text.retain(|c| c != '\0'),
        Value::Array(items) => items.iter_mut().for_each(strip_nul),
        Value::Object(fields) => fields.values_mut().for_each(strip_nul),
        _ => {}
    }
}

/// For `#[serde(default, deserialize_with = "items")]`: a list read item by item. Items that do
/// not fit are left out (and logged); anything but a list reads as an empty one.
pub fn items<'de, D: Deserializer<'de>, T: DeserializeOwned>(d: D) -> Result<Vec<T>, D::Error> {
    match Value::deserialize(d)? {
        Value::Array(items) => Ok(read_items(items)),
        _ => Ok(Vec::new()),
    }
}

/// For `#[serde(deserialize_with = "list")]`: a list that must be there, read item by item.
pub fn list<'de, D: Deserializer<'de>, T: DeserializeOwned>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(read_items(Vec::<Value>::deserialize(d)?))
}

fn read_items<T: DeserializeOwned>(items: Vec<Value>) -> Vec<T> {
    items
        .into_iter()
        .filter_map(|item| match serde_json::from_value(item) {
            Ok(item) => Some(item),
            Err(e) => {
                tracing::warn!(error = %e, item = std::any::type_name::<T>(), "a provider sent an item that does not fit its documented shape; left out");
                None
            }
        })
        .collect()
}

/// For `#[serde(default, deserialize_with = "optional")]`: the part if it fits, else `None`.
pub fn optional<'de, D: Deserializer<'de>, T: DeserializeOwned>(d: D) -> Result<Option<T>, D::Error> {
    Ok(serde_json::from_value(Value::deserialize(d)?).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Sample {
        name: String,
        #[serde(default, deserialize_with = "items")]
        numbers: Vec<u32>,
        #[serde(default, deserialize_with = "optional")]
        note: Option<String>,
    }

    #[test]
    fn nul_characters_are_taken_out_and_odd_items_left_out() {
        let sample: Sample = from_json(br#"{"name": "A\u0000na", "numbers": [1, "two", 3], "note": 5}"#).unwrap();
        assert_eq!(sample.name, "Ana");
        assert_eq!(sample.numbers, vec![1, 3]);
        assert_eq!(sample.note, None);
        let sample: Sample = from_json(br#"{"name": "x", "numbers": "not a list"}"#).unwrap();
        assert!(sample.numbers.is_empty());
        assert_eq!(without_nul("a\0b\0"), "ab");
    }
}
