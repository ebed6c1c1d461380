//! `confirm_booking`: staff record that the customer said they will come (they told someone at
//! the counter or on the phone). Queued like every console change, so it works offline and is
//! applied once; a booking changed meanwhile is refused (`version_conflict`) and the console says so
//! — unless it is already confirmed (the customer answered a reminder, or a colleague confirmed it,
//! while this console was offline): what staff asked for holds, and nothing changes.

use protocol::{BookingConfirmation, BookingId, BookingSource};

use super::Details;
use crate::accounts::{Actor, Permission};
use crate::error::Error;
use crate::scheduling::bookings::{self, BookingChange};
use crate::store::BusinessTx;

pub async fn apply(tx: &mut BusinessTx, actor: &Actor, booking_id: &BookingId, expected_version: i64) -> Result<Details, Error> {
    actor.require(Permission::HandleConversations)?;
    let business_id = tx.business_id().to_owned();
    if let Some(current) = bookings::load(tx.conn(), &business_id, booking_id).await? {
        if current.confirmation == BookingConfirmation::Confirmed && current.status.holds_time() {
            return Ok(super::booking_details(&current));
        }
    }
    let change = BookingChange { expected_version, confirmation: Some(BookingConfirmation::Confirmed), ..Default::default() };
    let booking = bookings::update(tx, booking_id, change, Some(&actor.staff_id), BookingSource::Staff).await?;
    Ok(super::booking_details(&booking))
}
