//! `/v1/business` and `/v1/audit-log`.

use axum::extract::State;
use protocol::{AuditEntry, Business, Page, UpdateBusiness};
use switchboard_core::accounts::business;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::http::auth::Auth;
use crate::http::extract::Query;
use crate::http::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_business, update_business)).routes(routes!(audit_log))
}

endpoint! {
    /// The business's settings.
    get "/v1/business" in "business" => get_business() -> Business [401] = business::get;
    /// Changes the business's settings (owners and admins).
    patch "/v1/business" in "business" => update_business(body UpdateBusiness) -> Business [403, 422] = business::update;
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// From a previous page's `next_cursor`.
    cursor: Option<String>,
    /// 1–200, default 50.
    limit: Option<u32>,
}

/// Who did what in the business, newest first (owners and admins).
#[utoipa::path(get, path = "/v1/audit-log", tag = "business", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, body = Page<AuditEntry>), (status = 400, body = protocol::ErrorBody), (status = 403, body = protocol::ErrorBody)))]
async fn audit_log(State(state): State<AppState>, auth: Auth, Query(q): Query<AuditQuery>) -> Result<axum::Json<Page<AuditEntry>>, ApiError> {
    Ok(axum::Json(business::audit_log(&state, &auth, q.cursor.as_deref(), q.limit.unwrap_or(50)).await?))
}
