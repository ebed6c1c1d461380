//! One module per mutation a console can push, each applying it with the same rules and
//! permissions as the REST API, inside the mutation's own transaction. Everything a mutation
//! creates carries the id the console made, so applying it again changes nothing.

mod add_note;
mod assign;
mod cancel_booking;
mod confirm_booking;
mod create_booking;
mod create_customer;
mod hand_back;
mod label_conversation;
mod mark_read;
mod reschedule_booking;
mod send_message;
mod send_template;
mod set_status;
mod start_conversation;
mod tag_customer;
mod take_over;
mod update_customer;
mod use_canned_response;

use protocol::MutationOp;
use serde_json::Value;

use crate::accounts::Actor;
use crate::error::{Error, SyncError};
use crate::store::BusinessTx;

/// What a mutation reports back to the console (the ids and versions it needs).
pub type Details = Option<Value>;

pub async fn apply(tx: &mut BusinessTx, actor: &Actor, op: &MutationOp) -> Result<Details, Error> {
    match op {
        MutationOp::SendMessage { conversation_id, message_id, body } => send_message::apply(tx, actor, conversation_id, message_id, body).await,
        MutationOp::SendMedia { conversation_id, message_id, media_id, caption } => {
            send_message::apply_media(tx, actor, conversation_id, message_id, media_id, caption).await
        }
        MutationOp::UseCannedResponse { conversation_id, message_id, canned_response_id } => {
            use_canned_response::apply(tx, actor, conversation_id, message_id, canned_response_id).await
        }
        MutationOp::SendTemplate { conversation_id, message_id, template_id, variables } => {
            send_template::apply(tx, actor, conversation_id, message_id, template_id, variables).await
        }
        MutationOp::TakeOver { conversation_id } => take_over::apply(tx, actor, conversation_id).await,
        MutationOp::HandBack { conversation_id } => hand_back::apply(tx, actor, conversation_id).await,
        MutationOp::MarkRead { conversation_id } => mark_read::apply(tx, actor, conversation_id).await,
        MutationOp::SetStatus { conversation_id, status } => set_status::apply(tx, actor, conversation_id, *status).await,
        MutationOp::Assign { conversation_id, staff_id } => assign::apply(tx, actor, conversation_id, staff_id.as_ref()).await,
        MutationOp::LabelConversation { conversation_id, add, remove } => label_conversation::apply(tx, actor, conversation_id, add, remove).await,
        MutationOp::AddNote { conversation_id, note_id, body } => add_note::apply(tx, actor, conversation_id, note_id, body).await,
        MutationOp::CreateBooking { booking_id, customer_id, service_id, start, staff_id, notes } => {
            create_booking::apply(tx, actor, booking_id, customer_id, service_id, start, staff_id.as_ref(), notes).await
        }
        MutationOp::RescheduleBooking { booking_id, expected_version, start, staff_id } => {
            reschedule_booking::apply(tx, actor, booking_id, *expected_version, start, staff_id.as_ref()).await
        }
        MutationOp::CancelBooking { booking_id, expected_version, reason } => {
            cancel_booking::apply(tx, actor, booking_id, *expected_version, reason.as_deref()).await
        }
        MutationOp::ConfirmBooking { booking_id, expected_version } => confirm_booking::apply(tx, actor, booking_id, *expected_version).await,
        MutationOp::UpdateCustomer { customer_id, changes } => update_customer::apply(tx, actor, customer_id, changes.clone()).await,
        MutationOp::TagCustomer { customer_id, add, remove } => tag_customer::apply(tx, actor, customer_id, add, remove).await,
        MutationOp::CreateCustomer { customer_id, customer } => create_customer::apply(tx, actor, customer_id, customer.clone()).await,
        MutationOp::StartConversation { conversation_id, customer_id, channel, message_id, body, template_id, variables } => {
            start_conversation::apply(tx, actor, conversation_id, customer_id, *channel, message_id, body.as_deref(), template_id.as_ref(), variables).await
        }
        MutationOp::Unreadable { name, reason, .. } => Err(if MutationOp::NAMES.contains(&name.as_str()) {
            Error::invalid(format!("`{name}` could not be read: {reason}"))
        } else {
            SyncError::UnknownMutation(name.clone()).into()
        }),
    }
}

/// A booking's answer to the console.
fn booking_details(booking: &protocol::Booking) -> Details {
    Some(serde_json::json!({"booking_id": booking.id, "version": booking.version, "status": booking.status}))
}

/// The business's time zone, for local times in bookings.
async fn business_tz(tx: &mut BusinessTx) -> Result<jiff::tz::TimeZone, Error> {
    let business_id = tx.business_id().to_owned();
    let name: String = sqlx::query_scalar("SELECT timezone FROM businesses WHERE id = $1").bind(business_id).fetch_one(tx.conn()).await?;
    jiff::tz::TimeZone::get(&name).map_err(Error::internal)
}
