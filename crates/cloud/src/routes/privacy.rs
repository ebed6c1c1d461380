//! Data protection: export a customer (found by id, phone or email) or the whole business as a
//! ZIP of JSON and CSV files, and erase a customer. Owners and admins, after a recent
//! re-authentication; the core decides what is theirs (`privacy`).

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use protocol::CustomerId;
use protocol::{RetentionPlan, RetentionPolicy};
use switchboard_core::privacy::{erase, export, retention};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::http::auth::Auth;
use crate::http::extract::{Json, Path, Query};
use crate::http::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(export_customer))
        .routes(routes!(export_business))
        .routes(routes!(erase_customer))
        .routes(routes!(get_retention, set_retention))
        .routes(routes!(retention_dry_run))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct WhoQuery {
    /// The customer's id.
    id: Option<String>,
    /// Their phone number (E.164, or as the business writes it).
    phone: Option<String>,
    email: Option<String>,
}

fn zip(bytes: Vec<u8>, name: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/zip".to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        bytes,
    )
        .into_response()
}

/// Everything held about one customer: a ZIP with a JSON and a CSV file per kind of record
/// (profile and consent, conversations, messages with calls and transcripts, notes, bookings,
/// audit entries) and their media files.
#[utoipa::path(get, path = "/v1/customer-export", tag = "privacy", security(("bearer" = [])), params(WhoQuery),
    responses((status = 200, content_type = "application/zip", body = Vec<u8>), (status = 403, body = protocol::ErrorBody), (status = 404, body = protocol::ErrorBody), (status = 422, body = protocol::ErrorBody)))]
async fn export_customer(State(state): State<AppState>, auth: Auth, Query(q): Query<WhoQuery>) -> Result<Response, ApiError> {
    let who = export::Who { id: q.id, phone: q.phone, email: q.email };
    let id = export::find_customer(&state, &auth, &who).await?;
    let bytes = export::export_customer(&state, &auth, &id).await?;
    Ok(zip(bytes, &format!("customer-{id}.zip")))
}

/// Everything the business holds, as one ZIP (no secrets).
#[utoipa::path(get, path = "/v1/business-export", tag = "privacy", security(("bearer" = [])),
    responses((status = 200, content_type = "application/zip", body = Vec<u8>), (status = 403, body = protocol::ErrorBody)))]
async fn export_business(State(state): State<AppState>, auth: Auth) -> Result<Response, ApiError> {
    let bytes = export::export_business(&state, &auth).await?;
    Ok(zip(bytes, "business.zip"))
}

/// Erases a customer: their personal data is removed everywhere (messages, transcripts, media,
/// notes; bookings kept anonymised; pending sends cancelled), consoles drop it on their next sync,
/// and the audit log keeps only that it happened. Answers what was removed, by table.
#[utoipa::path(post, path = "/v1/customers/{id}/erase", tag = "privacy", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 403, body = protocol::ErrorBody), (status = 404, body = protocol::ErrorBody)))]
async fn erase_customer(State(state): State<AppState>, auth: Auth, Path(id): Path<CustomerId>) -> Result<axum::Json<erase::Erased>, ApiError> {
    Ok(axum::Json(erase::erase_customer(&state, &auth, id.as_str()).await?))
}

/// How long the business keeps conversations and call recordings.
#[utoipa::path(get, path = "/v1/retention", tag = "privacy", security(("bearer" = [])), responses((status = 200, body = RetentionPolicy)))]
async fn get_retention(State(state): State<AppState>, auth: Auth) -> Result<axum::Json<RetentionPolicy>, ApiError> {
    Ok(axum::Json(retention::policy(&state, &auth).await?))
}

/// Sets how long the business keeps things (`null`: for ever). A daily job applies it.
#[utoipa::path(put, path = "/v1/retention", tag = "privacy", security(("bearer" = [])), request_body = protocol::SetRetentionPolicy,
    responses((status = 200, body = RetentionPolicy), (status = 403, body = protocol::ErrorBody), (status = 422, body = protocol::ErrorBody)))]
async fn set_retention(State(state): State<AppState>, auth: Auth, Json(policy): Json<protocol::SetRetentionPolicy>) -> Result<axum::Json<RetentionPolicy>, ApiError> {
    Ok(axum::Json(retention::set_policy(&state, &auth, policy.into()).await?))
}

/// Exactly what the retention job would delete now.
#[utoipa::path(get, path = "/v1/retention/dry-run", tag = "privacy", security(("bearer" = [])),
    responses((status = 200, body = RetentionPlan), (status = 403, body = protocol::ErrorBody)))]
async fn retention_dry_run(State(state): State<AppState>, auth: Auth) -> Result<axum::Json<RetentionPlan>, ApiError> {
    Ok(axum::Json(retention::dry_run(&state, &auth).await?))
}
