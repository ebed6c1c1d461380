//! `/v1/reports`: the owner's figures for a range of local days beside the previous period, the
//! rows behind each figure, and CSV exports (one row per conversation, per booking, per call). Owners
//! and admins only; the core's `reports` computes everything (definitions: docs/metrics.md).

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use protocol::{ReportFigure, ReportRows, ReportSummary};
use switchboard_core::reports::{self, ReportQuery};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::http::auth::Auth;
use crate::http::extract::Query;
use crate::http::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(summary))
        .routes(routes!(rows))
        .routes(routes!(conversations_csv))
        .routes(routes!(bookings_csv))
        .routes(routes!(calls_csv))
}

/// The period's figures with the previous period's, per day, by channel, source, service and
/// person (owners and admins).
#[utoipa::path(get, path = "/v1/reports/summary", tag = "reports", security(("bearer" = [])),
    params(("from" = String, Query, description = "First local day, `2026-03-01`."), ("to" = String, Query, description = "Last local day, inclusive (at most 400 days)."),
        ("channel" = Option<protocol::Channel>, Query), ("staff_id" = Option<String>, Query)),
    responses((status = 200, body = ReportSummary), (status = 403, body = protocol::ErrorBody), (status = 422, body = protocol::ErrorBody)))]
async fn summary(State(state): State<AppState>, auth: Auth, Query(q): Query<ReportQuery>) -> Result<axum::Json<ReportSummary>, ApiError> {
    Ok(axum::Json(reports::summary(&state, &auth, q).await?))
}

/// Exactly the conversations, bookings or calls a figure counts (owners and admins).
#[utoipa::path(get, path = "/v1/reports/rows", tag = "reports", security(("bearer" = [])),
    params(("from" = String, Query), ("to" = String, Query), ("figure" = ReportFigure, Query), ("channel" = Option<protocol::Channel>, Query),
        ("staff_id" = Option<String>, Query), ("previous" = Option<bool>, Query, description = "The previous period's rows.")),
    responses((status = 200, body = ReportRows), (status = 400, body = protocol::ErrorBody), (status = 403, body = protocol::ErrorBody), (status = 422, body = protocol::ErrorBody)))]
async fn rows(State(state): State<AppState>, auth: Auth, Query(q): Query<ReportQuery>) -> Result<axum::Json<ReportRows>, ApiError> {
    Ok(axum::Json(reports::rows(&state, &auth, q).await?))
}

fn csv(body: String, name: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        body,
    )
        .into_response()
}

/// One row per conversation episode of the period (or behind `figure`), as CSV.
#[utoipa::path(get, path = "/v1/reports/conversations.csv", tag = "reports", security(("bearer" = [])),
    params(("from" = String, Query), ("to" = String, Query), ("figure" = Option<ReportFigure>, Query), ("channel" = Option<protocol::Channel>, Query),
        ("staff_id" = Option<String>, Query), ("previous" = Option<bool>, Query)),
    responses((status = 200, content_type = "text/csv", body = String), (status = 400, body = protocol::ErrorBody), (status = 403, body = protocol::ErrorBody), (status = 422, body = protocol::ErrorBody)))]
async fn conversations_csv(State(state): State<AppState>, auth: Auth, Query(q): Query<ReportQuery>) -> Result<Response, ApiError> {
    let name = format!("conversations-{}-{}.csv", q.from, q.to);
    Ok(csv(reports::conversations_csv(&state, &auth, q).await?, &name))
}

/// One row per booking made in the period or with its appointment in it (or behind `figure`),
/// as CSV.
#[utoipa::path(get, path = "/v1/reports/bookings.csv", tag = "reports", security(("bearer" = [])),
    params(("from" = String, Query), ("to" = String, Query), ("figure" = Option<ReportFigure>, Query), ("channel" = Option<protocol::Channel>, Query),
        ("staff_id" = Option<String>, Query), ("previous" = Option<bool>, Query)),
    responses((status = 200, content_type = "text/csv", body = String), (status = 400, body = protocol::ErrorBody), (status = 403, body = protocol::ErrorBody), (status = 422, body = protocol::ErrorBody)))]
async fn bookings_csv(State(state): State<AppState>, auth: Auth, Query(q): Query<ReportQuery>) -> Result<Response, ApiError> {
    let name = format!("bookings-{}-{}.csv", q.from, q.to);
    Ok(csv(reports::bookings_csv(&state, &auth, q).await?, &name))
}

/// One row per call behind `figure`, as CSV: `missed_calls` (the default) and `recovered` list
/// missed calls, `text_backs` the call each text-back answered; other figures list none.
#[utoipa::path(get, path = "/v1/reports/calls.csv", tag = "reports", security(("bearer" = [])),
    params(("from" = String, Query), ("to" = String, Query), ("figure" = Option<ReportFigure>, Query), ("channel" = Option<protocol::Channel>, Query),
        ("staff_id" = Option<String>, Query), ("previous" = Option<bool>, Query)),
    responses((status = 200, content_type = "text/csv", body = String), (status = 400, body = protocol::ErrorBody), (status = 403, body = protocol::ErrorBody),
        (status = 422, body = protocol::ErrorBody)))]
async fn calls_csv(State(state): State<AppState>, auth: Auth, Query(q): Query<ReportQuery>) -> Result<Response, ApiError> {
    let name = format!("calls-{}-{}.csv", q.from, q.to);
    Ok(csv(reports::calls_csv(&state, &auth, q).await?, &name))
}
