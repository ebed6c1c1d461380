//! `/v1/sync/pull` and `/v1/sync/push`: the console's change log and mutations (the WebSocket is
//! in [`super::live`]).

use axum::extract::State;
use protocol::{PushRequest, PushResponse, SyncPage};
use serde::Deserialize;
use switchboard_core::sync;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::http::auth::Auth;
use crate::http::extract::{Json, Query};
use crate::http::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(pull)).routes(routes!(push))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PullQuery {
    /// The `cursor` of the last page applied; 0 (or absent) for a first sync.
    cursor: Option<i64>,
    /// This device's client id: its recent mutations' outcomes come with the page.
    client_id: Option<String>,
    /// 1–2000, default 500.
    limit: Option<u32>,
}

/// The changes after `cursor` that the signed-in person may read through the API, in seq order
/// (the cursor moves past the others too; after a role change, pull again from 0). 409
/// `resync_required` when the cursor is older than what the log still remembers: wipe the mirror
/// and pull from 0.
#[utoipa::path(get, path = "/v1/sync/pull", tag = "sync", security(("bearer" = [])), params(PullQuery),
    responses((status = 200, body = SyncPage), (status = 400, body = protocol::ErrorBody), (status = 409, body = protocol::ErrorBody)))]
async fn pull(State(state): State<AppState>, auth: Auth, Query(q): Query<PullQuery>) -> Result<axum::Json<SyncPage>, ApiError> {
    let page = sync::pull(&state, &auth, q.cursor.unwrap_or(0), q.client_id.as_deref(), q.limit.unwrap_or(500)).await?;
    Ok(axum::Json(page))
}

/// Applies a console's mutations in order, each on its own. Already-applied ids get their first
/// outcome again (a replay after a lost answer changes nothing); a missing id stops the batch
/// (`expected_id`); a refusal (validation, conflict) is that mutation's outcome and the batch
/// goes on; a server fault is a 5xx and the console retries.
#[utoipa::path(post, path = "/v1/sync/push", tag = "sync", security(("bearer" = [])), request_body = PushRequest,
    responses((status = 200, body = PushResponse), (status = 403, body = protocol::ErrorBody), (status = 422, body = protocol::ErrorBody)))]
async fn push(State(state): State<AppState>, auth: Auth, Json(req): Json<PushRequest>) -> Result<axum::Json<PushResponse>, ApiError> {
    Ok(axum::Json(sync::push(&state, &auth, req).await?))
}
