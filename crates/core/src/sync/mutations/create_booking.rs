//! `create_booking`: booked at the desk (staff rules: no online notice or horizon limits).

use protocol::{BookingId, BookingSource, BookingStatus, CustomerId, ServiceId, StaffId};

use super::Details;
use crate::accounts::{Actor, Permission};
use crate::error::Error;
use crate::scheduling::bookings::{self, NewBooking};
use crate::store::BusinessTx;

#[allow(clippy::too_many_arguments)]
pub async fn apply(
    tx: &mut BusinessTx,
    actor: &Actor,
    booking_id: &BookingId,
    customer_id: &CustomerId,
    service_id: &ServiceId,
    start: &str,
    staff_id: Option<&StaffId>,
    notes: &str,
) -> Result<Details, Error> {
    actor.require(Permission::HandleConversations)?;
    let tz = super::business_tz(tx).await?;
    let new = NewBooking {
        id: Some(booking_id.to_string()),
        customer_id: customer_id.to_string(),
        service_id: service_id.to_string(),
        staff_id: staff_id.map(|s| s.to_string()),
        start: bookings::parse_start(start, &tz)?,
        notes: notes.to_owned(),
        source: BookingSource::Staff,
        status: BookingStatus::Confirmed,
        created_by_staff_id: Some(actor.staff_id.clone()),
    };
    let booking = bookings::create(tx, new).await?;
    Ok(Some(serde_json::json!({"booking_id": booking.id, "version": booking.version})))
}
