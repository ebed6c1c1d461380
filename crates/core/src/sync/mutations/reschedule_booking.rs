//! `reschedule_booking`: moved on the calendar (refused with `version_conflict` if it changed).

use protocol::{BookingId, BookingSource, StaffId};

use super::Details;
use crate::accounts::{Actor, Permission};
use crate::error::Error;
use crate::scheduling::bookings::{self, BookingChange};
use crate::store::BusinessTx;

pub async fn apply(tx: &mut BusinessTx, actor: &Actor, booking_id: &BookingId, expected_version: i64, start: &str, staff_id: Option<&StaffId>) -> Result<Details, Error> {
    actor.require(Permission::HandleConversations)?;
    let tz = super::business_tz(tx).await?;
    let change = BookingChange {
        expected_version,
        start: Some(bookings::parse_start(start, &tz)?),
        staff_id: staff_id.map(|s| s.to_string()),
        ..Default::default()
    };
    let booking = bookings::update(tx, booking_id, change, Some(&actor.staff_id), BookingSource::Staff).await?;
    Ok(super::booking_details(&booking))
}
