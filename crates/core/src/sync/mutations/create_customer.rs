//! `create_customer`: a customer added at the desk (a walk-in, someone who phoned), with the id
//! the console made, as in `POST /v1/customers`.

use protocol::{CreateCustomer, CustomerId};

use super::Details;
use crate::accounts::Actor;
use crate::error::Error;
use crate::store::BusinessTx;

pub async fn apply(tx: &mut BusinessTx, actor: &Actor, customer_id: &CustomerId, customer: CreateCustomer) -> Result<Details, Error> {
    let saved = crate::customers::insert(tx, actor, Some(customer_id.as_str()), customer).await?;
    Ok(Some(serde_json::json!({"customer_id": saved.id})))
}
