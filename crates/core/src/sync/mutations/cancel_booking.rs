//! `cancel_booking`: the time is free again.

use protocol::{BookingId, BookingSource, BookingStatus};

use super::Details;
use crate::accounts::{Actor, Permission};
use crate::error::Error;
use crate::scheduling::bookings::{self, BookingChange};
use crate::store::BusinessTx;

pub async fn apply(tx: &mut BusinessTx, actor: &Actor, booking_id: &BookingId, expected_version: i64, reason: Option<&str>) -> Result<Details, Error> {
    actor.require(Permission::HandleConversations)?;
    let change = BookingChange { expected_version, status: Some(BookingStatus::Cancelled), cancel_reason: reason.map(str::to_owned), ..Default::default() };
    let booking = bookings::update(tx, booking_id, change, Some(&actor.staff_id), BookingSource::Staff).await?;
    Ok(super::booking_details(&booking))
}
