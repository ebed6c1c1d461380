

use axum::extract::State;

use axum::http::StatusCode;




use protocol::{ChannelStatus, TwilioChannelSetup, WhatsappChannelSetup};





use utoipa_axum::router::OpenApiRouter;

use utoipa_axum::routes;


use crate::http::auth::Auth;


use crate::error::ApiError;

use crate::http::extract::Json;

use crate::http::AppState;



pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_channels))
        .routes(routes!(put_whatsapp, delete_whatsapp))
        .routes(routes!(put_twilio, delete_twilio))
}

/// Which channels are set up, and whether they work. Secrets are never shown.
#[utoipa::path(get, path = "/v1/channels", tag = "channels", security(("bearer" = [])),
    responses((status = 200, body = Vec<ChannelStatus>), (status = 401, body = protocol::ErrorBody)))]
async fn list_channels(State(state): State<AppState>, auth: Auth) -> Result<axum::Json<Vec<ChannelStatus>>, ApiError> {
    Ok(axum::Json(switchboard_core::channels::list_channels(&state, &auth).await?))
}

/// Connects the business's WhatsApp Cloud API number (owners and admins).
#[utoipa::path(put, path = "/v1/channels/whatsapp", tag = "channels", security(("bearer" = [])), request_body = WhatsappChannelSetup,
    responses((status = 200, body = ChannelStatus), (status = 409, body = protocol::ErrorBody), (status = 422, body = protocol::ErrorBody)))]
async fn put_whatsapp(
    State(state): State<AppState>,
    auth: Auth,
    Json(req): Json<WhatsappChannelSetup>,
) -> Result<axum::Json<ChannelStatus>, ApiError> {
    Ok(axum::Json(switchboard_core::channels::whatsapp::setup::connect(&state, &auth, req).await?))
}

/// Disconnects WhatsApp.
#[utoipa::path(delete, path = "/v1/channels/whatsapp", tag = "channels", security(("bearer" = [])),
    responses((status = 204), (status = 404, body = protocol::ErrorBody)))]
async fn delete_whatsapp(State(state): State<AppState>, auth: Auth) -> Result<StatusCode, ApiError> {
    switchboard_core::channels::whatsapp::setup::disconnect(&state, &auth).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Connects the business's Twilio account and numbers (owners and admins).
#[utoipa::path(put, path = "/v1/channels/twilio", tag = "channels", security(("bearer" = [])), request_body = TwilioChannelSetup,
    responses((status = 200, body = ChannelStatus), (status = 409, body = protocol::ErrorBody), (status = 422, body = protocol::ErrorBody)))]
async fn put_twilio(
    State(state): State<AppState>,
    auth: Auth,
    Json(req): Json<TwilioChannelSetup>,
) -> Result<axum::Json<ChannelStatus>, ApiError> {
    Ok(axum::Json(switchboard_core::channels::twilio::setup::connect(&state, &auth, req).await?))
}

/// Disconnects Twilio.
#[utoipa::path(delete, path = "/v1/channels/twilio", tag = "channels", security(("bearer" = [])),
    responses((status = 204), (status = 404, body = protocol::ErrorBody)))]
async fn delete_twilio(State(state): State<AppState>, auth: Auth) -> Result<StatusCode, ApiError> {
    switchboard_core::channels::twilio::setup::disconnect(&state, &auth).await?;
    Ok(StatusCode::NO_CONTENT)
}
