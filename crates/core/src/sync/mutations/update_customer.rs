//! `update_customer`: a customer's profile, as in `PATCH /v1/customers/{id}`.

use protocol::{CustomerId, UpdateCustomer};

use super::Details;
use crate::accounts::Actor;
use crate::error::Error;
use crate::store::BusinessTx;

pub async fn apply(tx: &mut BusinessTx, actor: &Actor, customer_id: &CustomerId, changes: UpdateCustomer) -> Result<Details, Error> {
    crate::customers::apply_update(tx, actor, customer_id, changes).await?;
    Ok(None)
}
