//! `/v1/automations`: confirmations, reminders, replies, missed-call text-backs and follow-ups —
//! their settings (owners and admins change them), a preview of a text, and what was planned,
//! sent or not sent for a booking or a conversation; `/v1/bookings/unconfirmed`, the bookings
//! starting within two hours that the customer has not confirmed. The core's `automations`
//! decides and sends.

use axum::extract::State;
use protocol::{Page, AutomationPreview, AutomationRun, AutomationSettings, Booking, PreviewAutomation, UpdateAutomationSettings};
use switchboard_core::automations;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::http::auth::Auth;
use crate::http::extract::{Json, Path, Query};
use crate::http::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_automations, update_automations))
        .routes(routes!(preview))
        .routes(routes!(unconfirmed))
        .routes(routes!(booking_runs))
        .routes(routes!(conversation_runs))
}

/// The business's automations: confirmations, reminder rules, quiet hours, texts, WhatsApp
/// templates, missed-call text-back, follow-ups.
#[utoipa::path(get, path = "/v1/automations", tag = "automations", security(("bearer" = [])),
    responses((status = 200, body = AutomationSettings)))]
async fn get_automations(State(state): State<AppState>, auth: Auth) -> Result<axum::Json<AutomationSettings>, ApiError> {
    Ok(axum::Json(automations::get_settings(&state, &auth).await?))
}

/// Changes the automations (owners and admins); what is left out stays.
#[utoipa::path(patch, path = "/v1/automations", tag = "automations", security(("bearer" = [])), request_body = UpdateAutomationSettings,
    responses((status = 200, body = AutomationSettings), (status = 403, body = protocol::ErrorBody), (status = 422, body = protocol::ErrorBody)))]
async fn update_automations(State(state): State<AppState>, auth: Auth, Json(req): Json<UpdateAutomationSettings>) -> Result<axum::Json<AutomationSettings>, ApiError> {
    Ok(axum::Json(automations::update_settings(&state, &auth, req).await?))
}

/// A text with its variables filled in, from a real booking (`booking_id`) or example details.
#[utoipa::path(post, path = "/v1/automations/preview", tag = "automations", security(("bearer" = [])), request_body = PreviewAutomation,
    responses((status = 200, body = AutomationPreview), (status = 404, body = protocol::ErrorBody), (status = 422, body = protocol::ErrorBody)))]
async fn preview(State(state): State<AppState>, auth: Auth, Json(req): Json<PreviewAutomation>) -> Result<axum::Json<AutomationPreview>, ApiError> {
    Ok(axum::Json(automations::preview(&state, &auth, req).await?))
}

/// Bookings starting within the next two hours that the customer has not confirmed, earliest first.
#[utoipa::path(get, path = "/v1/bookings/unconfirmed", tag = "scheduling", security(("bearer" = [])), params(("cursor" = Option<String>, Query, description = "From a previous page's `next_cursor`."), ("limit" = Option<u32>, Query, description = "1–200, default 50.")),
    responses((status = 200, body = Page<Booking>), (status = 400, body = protocol::ErrorBody)))]
async fn unconfirmed(State(state): State<AppState>, auth: Auth, Query(page): Query<switchboard_core::store::PageQuery>) -> Result<axum::Json<Page<Booking>>, ApiError> {
    Ok(axum::Json(automations::unconfirmed_soon(&state, &auth, page).await?))
}

/// A booking's confirmations and reminders: planned, sent, or not sent and why.
#[utoipa::path(get, path = "/v1/bookings/{id}/automations", tag = "automations", security(("bearer" = [])),
    params(("id" = String, Path, description = "Booking id"), ("cursor" = Option<String>, Query, description = "From a previous page's `next_cursor`."), ("limit" = Option<u32>, Query, description = "1–200, default 50.")),
    responses((status = 200, body = Page<AutomationRun>), (status = 400, body = protocol::ErrorBody), (status = 404, body = protocol::ErrorBody)))]
async fn booking_runs(State(state): State<AppState>, auth: Auth, Path(id): Path<String>, Query(page): Query<switchboard_core::store::PageQuery>) -> Result<axum::Json<Page<AutomationRun>>, ApiError> {
    Ok(axum::Json(automations::booking_runs(&state, &auth, &id, page).await?))
}

/// A conversation's automated messages: follow-ups (and what stopped them), text-backs, replies.
#[utoipa::path(get, path = "/v1/conversations/{id}/automations", tag = "automations", security(("bearer" = [])),
    params(("id" = String, Path, description = "Conversation id"), ("cursor" = Option<String>, Query, description = "From a previous page's `next_cursor`."), ("limit" = Option<u32>, Query, description = "1–200, default 50.")),
    responses((status = 200, body = Page<AutomationRun>), (status = 400, body = protocol::ErrorBody), (status = 404, body = protocol::ErrorBody)))]
async fn conversation_runs(State(state): State<AppState>, auth: Auth, Path(id): Path<String>, Query(page): Query<switchboard_core::store::PageQuery>) -> Result<axum::Json<Page<AutomationRun>>, ApiError> {
    Ok(axum::Json(automations::conversation_runs(&state, &auth, &id, page).await?))
}
