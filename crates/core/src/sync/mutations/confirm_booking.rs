//! `confirm_booking`: staff record that the customer said they will come (they told someone at
//! the counter or on the phone). Queued like every console change, so it works offline and is
//! applied once; a booking changed meanwhile is refused (`version_conflict`) and the console says so.

use protocol::{BookingConfirmation, BookingId, BookingSource};

use super::Details;
use crate::accounts::{Actor, Permission};
use crate::error::Error;
use crate::scheduling::bookings::{self, BookingChange};
use crate::store::BusinessTx;

pub async fn apply(tx: &mut BusinessTx, actor: &Actor, booking_id: &BookingId, expected_version: i64) -> Result<Details, Error> {
    actor.require(Permission::HandleConversations)?;
    let change = BookingChange { expected_version, confirmation: Some(BookingConfirmation::Confirmed), ..Default::default() };
    let booking = bookings::update(tx, booking_id, change, Some(&actor.staff_id), BookingSource::Staff).await?;
    Ok(super::booking_details(&booking))
}
