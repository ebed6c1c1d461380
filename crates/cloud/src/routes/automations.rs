//! `/v1/automations`: confirmations, reminders, replies, missed-call text-backs and follow-ups —
//! their settings (owners and admins change them), a preview of a text, and what was planned,
//! sent or not sent for a booking or a conversation; `/v1/bookings/unconfirmed`, the bookings
//! starting within two hours that the customer has not confirmed. The core's `automations`
//! decides and sends.

use protocol::{AutomationPreview, AutomationRun, AutomationSettings, Booking, PreviewAutomation, UpdateAutomationSettings};
use switchboard_core::automations;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_automations, update_automations))
        .routes(routes!(preview))
        .routes(routes!(unconfirmed))
        .routes(routes!(booking_runs))
        .routes(routes!(conversation_runs))
}

endpoint! {
    /// The business's automations: confirmations, reminder rules, quiet hours, texts, WhatsApp
    /// templates, missed-call text-back, follow-ups.
    get "/v1/automations" in "automations" => get_automations() -> AutomationSettings [] = automations::get_settings;
    /// Changes the automations (owners and admins); what is left out stays.
    patch "/v1/automations" in "automations" => update_automations(body UpdateAutomationSettings) -> AutomationSettings [403, 422] = automations::update_settings;
    /// A text with its variables filled in, from a real booking (`booking_id`) or example details.
    post "/v1/automations/preview" in "automations" => preview(body PreviewAutomation) -> AutomationPreview [404, 422] = automations::preview;
    /// Bookings starting within the next two hours that the customer has not confirmed, earliest first.
    get "/v1/bookings/unconfirmed" in "scheduling" => unconfirmed(page) -> Page<Booking> [400] = automations::unconfirmed_soon;
    /// A booking's confirmations and reminders: planned, sent, or not sent and why.
    get "/v1/bookings/{id}/automations" in "automations" => booking_runs(id "Booking id", page) -> Page<AutomationRun> [400, 404] = automations::booking_runs;
    /// A conversation's automated messages: follow-ups (and what stopped them), text-backs, replies.
    get "/v1/conversations/{id}/automations" in "automations" => conversation_runs(id "Conversation id", page) -> Page<AutomationRun> [400, 404] = automations::conversation_runs;
}
