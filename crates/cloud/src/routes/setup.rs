//! `/v1/setup`: the first-run setup of a new business (time zone, opening hours, services,
//! invite staff, connect a channel), kept by the service so it follows the owner everywhere.

use axum::extract::State;
use protocol::{SetupProgress, UpdateSetupStep};
use switchboard_core::accounts::first_run;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::http::auth::Auth;
use crate::http::extract::Json;
use crate::http::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_setup, update_setup))
}

endpoint! {
    /// Where the business stands in its first-run setup (owners and admins).
    get "/v1/setup" in "business" => get_setup() -> SetupProgress [401, 403] = first_run::progress;
}

/// Marks one setup step `done`, `skipped` (for later) or `todo` (resumed) (owners and admins).
#[utoipa::path(patch, path = "/v1/setup", tag = "business", security(("bearer" = [])), request_body = UpdateSetupStep,
    responses((status = 200, body = SetupProgress), (status = 401, body = protocol::ErrorBody), (status = 403, body = protocol::ErrorBody),
        (status = 415, body = protocol::ErrorBody), (status = 422, body = protocol::ErrorBody)))]
async fn update_setup(State(state): State<AppState>, auth: Auth, Json(req): Json<UpdateSetupStep>) -> Result<axum::Json<SetupProgress>, ApiError> {
    Ok(axum::Json(first_run::mark(&state, &auth, req.step, req.state).await?))
}
