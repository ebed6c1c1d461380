//! A business's rows read as their wire types. Each kind says once where it lives and how a row
//! reads ([`Record`]); loading one, insisting on it (`not_found`), listing them and publishing a
//! write to the change log are then the same few lines for all of them.

use protocol::EntityKind;
use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use super::{BusinessTx, StoreError};
use crate::error::Error;

pub trait Record: serde::Serialize + Sized {
    /// The `FROM` clause (a table, or a join).
    const TABLE: &'static str;
    const COLUMNS: &'static str;
    /// Its kind in the change log.
    const KIND: EntityKind;
    /// What a person calls it: "No such {NOUN}."
    const NOUN: &'static str;
    /// The id and business columns, qualified when `TABLE` is a join.
    const ID: &'static str = "id";
    const BUSINESS: &'static str = "business_id";

    fn from_row(row: &AnyRow) -> Result<Self, StoreError>;
}

/// One of the business's rows, if it has it.
pub async fn find<R: Record>(conn: &mut AnyConnection, business_id: &str, id: &str) -> Result<Option<R>, StoreError> {
    let sql = format!("SELECT {} FROM {} WHERE {} = $1 AND {} = $2", R::COLUMNS, R::TABLE, R::ID, R::BUSINESS);
    let row = sqlx::query(&sql).bind(id).bind(business_id).fetch_optional(conn).await?;
    row.as_ref().map(R::from_row).transpose()
}

/// One of the business's rows, or `not_found` (also what another business's ids look like).
pub async fn get<R: Record>(conn: &mut AnyConnection, business_id: &str, id: &str) -> Result<R, Error> {
    find(conn, business_id, id).await?.ok_or(Error::NotFound(R::NOUN))
}

/// All of the business's rows of a kind, in `order_by` order.
pub async fn list<R: Record>(conn: &mut AnyConnection, business_id: &str, order_by: &str) -> Result<Vec<R>, StoreError> {
    let sql = format!("SELECT {} FROM {} WHERE {} = $1 ORDER BY {order_by}", R::COLUMNS, R::TABLE, R::BUSINESS);
    sqlx::query(&sql).bind(business_id).fetch_all(conn).await?.iter().map(R::from_row).collect()
}

impl BusinessTx {
    /// Reads a row just written back, records its state in the change log, and returns it.
    pub async fn publish<R: Record>(&mut self, id: &str) -> Result<R, Error> {
        let business_id = self.business_id().to_owned();
        let record: R = get(self.conn(), &business_id, id).await?;
        self.record(R::KIND, id, Some(&record)).await?;
        Ok(record)
    }

    /// Deletes one of the business's rows of a kind with its tombstone; `not_found` if absent.
    pub async fn remove<R: Record>(&mut self, id: &str) -> Result<(), Error> {
        if self.delete_row(R::TABLE, R::KIND, id).await? {
            Ok(())
        } else {
            Err(Error::NotFound(R::NOUN))
        }
    }
}
