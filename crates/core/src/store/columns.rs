//! A row read as a wire struct, each field named once: [`read_row!`].
//!
//! A column whose stored type is the field's type (text, integers, ids, word enums, instants)
//! reads directly. The few that are stored differently say how, and each way is written once
//! here: [`flag`] (0/1 → `bool`), [`int`] (a count or a number of minutes → `u32`), [`json`] (JSON
//! text → a list or an object).

use serde::de::DeserializeOwned;
use sqlx::any::AnyRow;
use sqlx::Row;

use super::{json_column, StoreError};

/// Builds `$ty` from a row: `field` reads the column of the same name as the field's type;
/// `field: how` reads it through `columns::how` (see the module); `field = expr` is anything
/// else (a renamed column, a value worked out from others). Use it where `?` turns a
/// [`StoreError`] into the function's error.
macro_rules! read_row {
    ($row:expr => $ty:path { $($field:ident $(: $how:ident)? $(= $value:expr)?),* $(,)? }) => {{
        let row: &sqlx::any::AnyRow = $row;
        $ty { $($field: $crate::store::columns::read_row!(@field row, stringify!($ty), $field $(: $how)? $(= $value)?)),* }
    }};
    (@field $row:ident, $of:expr, $field:ident) => {
        sqlx::Row::try_get($row, stringify!($field))?
    };
    (@field $row:ident, $of:expr, $field:ident : $how:ident) => {
        $crate::store::columns::$how($row, $crate::store::columns::Column { of: $of, name: stringify!($field) })?
    };
    (@field $row:ident, $of:expr, $field:ident = $value:expr) => {
        $value
    };
}
pub(crate) use read_row;

/// A column, and what it is read into (for the error when it does not read).
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub of: &'static str,
    pub name: &'static str,
}

impl std::fmt::Display for Column {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.of, self.name)
    }
}

/// A 0/1 integer column (SQLite has no booleans; both engines store them as integers here).
pub fn flag(row: &AnyRow, column: Column) -> Result<bool, StoreError> {
    Ok(row.try_get::<i64, _>(column.name)? != 0)
}

/// A whole number that must fit the field (`u32` minutes, counts), or `NULL` for an optional one.
/// A value that does not fit is a corrupt row, not a silently wrapped number.
pub fn int<T: FromStoredInt>(row: &AnyRow, column: Column) -> Result<T, StoreError> {
    T::from_stored(row.try_get(column.name)?).ok_or_else(|| StoreError::Corrupt(format!("{column} is out of range")))
}

/// A JSON text column.
pub fn json<T: DeserializeOwned>(row: &AnyRow, column: Column) -> Result<T, StoreError> {
    json_column(&row.try_get::<String, _>(column.name)?, &column.to_string())
}

/// The integer fields [`int`] reads: `u32`, and `Option<u32>` for a nullable column.
pub trait FromStoredInt: Sized {
    type Stored: for<'r> sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>;
    fn from_stored(value: Self::Stored) -> Option<Self>;
}

impl FromStoredInt for u32 {
    type Stored = i64;
    fn from_stored(value: i64) -> Option<u32> {
        u32::try_from(value).ok()
    }
}

impl FromStoredInt for Option<u32> {
    type Stored = Option<i64>;
    fn from_stored(value: Option<i64>) -> Option<Option<u32>> {
        match value {
            None => Some(None),
            Some(v) => u32::try_from(v).ok().map(Some),
        }
    }
}
