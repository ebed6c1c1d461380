//! `tag_customer`: adds and removes a customer's tags, keeping the ones others added meanwhile.

use protocol::CustomerId;

use super::Details;
use crate::accounts::Actor;
use crate::error::Error;
use crate::store::BusinessTx;

pub async fn apply(tx: &mut BusinessTx, actor: &Actor, customer_id: &CustomerId, add: &[String], remove: &[String]) -> Result<Details, Error> {
    let c = crate::customers::tag(tx, actor, customer_id, add, remove).await?;
    Ok(Some(serde_json::json!({"tags": c.tags})))
}
