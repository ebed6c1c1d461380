//! The HTTP surface: router assembly, the request pipeline (request ids, logs, metrics, body
//! limits, timeouts, panics → 500), health, metrics and the OpenAPI document.
//!
//! Every route is registered through a `utoipa_axum::OpenApiRouter` with `routes!`, so a route
//! cannot be served without being documented in `/openapi.json` (a test holds both directions).

pub mod auth;
pub mod extract;
pub mod limits;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, HeaderName};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use switchboard_core::Core;

/// What every handler can reach: the core, and what only HTTP needs (rate limits, the trusted
/// proxies, the OpenAPI document). Dereferences to the [`Core`].
#[derive(Clone)]
pub struct AppState {
    pub core: Core,
    pub limits: Arc<limits::Limits>,
    pub trusted_proxies: Arc<limits::TrustedProxies>,
    pub openapi: Arc<String>,
}

impl std::ops::Deref for AppState {
    type Target = Core;
    fn deref(&self) -> &Core {
        &self.core
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Switchboard", description = "The AI front desk's public API. Errors are always `{\"error\":{\"code\",\"message\"}}`."),
    modifiers(&BearerAuth),
    components(schemas(protocol::ErrorBody))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

/// Every route of the service with its documentation, before state and middleware.
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(healthz))
        .routes(routes!(metrics))
        .routes(routes!(openapi_json))
        .merge(crate::routes::accounts::router())
        .merge(crate::routes::security::router())
        .merge(crate::routes::privacy::router())
        .merge(crate::routes::business::router())
        .merge(crate::routes::setup::router())
        .merge(crate::routes::staff::router())
        .merge(crate::routes::customers::router())
        .merge(crate::routes::services::router())
        .merge(crate::routes::canned_responses::router())
        .merge(crate::routes::conversations::router())
        .merge(crate::routes::schedule::router())
        .merge(crate::routes::automations::router())
        .merge(crate::routes::bookings::router())
        .merge(crate::routes::calendar_feeds::router())
        .merge(crate::routes::google_calendar::router())
        .merge(crate::routes::channels::router())
        .merge(crate::routes::whatsapp::router())
        .merge(crate::routes::twilio::router())
        .merge(crate::routes::vapi::router())
        .merge(crate::routes::retell::router())
        .merge(crate::routes::webhook_events::router())
        .merge(crate::routes::outbox::router())
        .merge(crate::routes::media::router())
        .merge(crate::routes::reports::router())
        .merge(crate::routes::control::router())
        .merge(crate::routes::sync::router())
        .merge(crate::routes::live::router())
}

/// The OpenAPI document as served at `/openapi.json`.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    let mut doc = api().split_for_parts().1;
    document_common_answers(&mut doc);
    doc
}

/// Answers any operation can give besides its own, written into the document so that clients
/// (and generated ones) know them: 401 on signed-in routes; 400, 408, 413, 415 and 422 where a
/// JSON body is taken; 400 for a bad path or query string; 503 when the service is overloaded,
/// its database is down or it is stopping. An operation's own description of a status stays.
fn document_common_answers(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::ParameterIn;
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    let error = |description: &str| -> RefOr<utoipa::openapi::Response> {
        RefOr::T(
            ResponseBuilder::new()
                .description(description)
                .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build())
                .build(),
        )
    };
    for item in doc.paths.paths.values_mut() {
        let operations = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.options, &mut item.head, &mut item.patch, &mut item.trace];
        for op in operations.into_iter().flatten() {
            let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
            let json_body = op.request_body.as_ref().is_some_and(|b| b.content.contains_key("application/json"));
            let params = op.parameters.as_deref().unwrap_or_default();
            let query = params.iter().any(|p| matches!(p.parameter_in, ParameterIn::Query));
            let path = params.iter().any(|p| matches!(p.parameter_in, ParameterIn::Path));
            let mut answers: Vec<(&str, &str)> = Vec::new();
            if secured {
                answers.push(("401", "No, a bad or an expired access token, or a session that ended (`missing_token`, `invalid_token`, `token_expired`, `session_revoked`, `account_deactivated`)."));
            }
            if json_body {
                answers.push(("400", "The body is not JSON or is cut short (`invalid_json`, `invalid_body`)."));
                answers.push(("408", "The body did not arrive in time (`request_timeout`)."));
                answers.push(("413", "The body is over the size limit (`payload_too_large`)."));
                answers.push(("415", "The body is not sent as `application/json` (`unsupported_media_type`)."));
                answers.push(("422", "Wrong types, unknown fields, values out of range (`validation_failed` and the operation's own codes)."));
            }
            if query {
                answers.push(("400", "A query parameter that cannot be read (`invalid_query`)."));
            }
            if path {
                answers.push(("400", "A path that cannot be read (`invalid_path`)."));
            }
            answers.push(("503", "The request took too long, the database is unavailable or the instance is stopping (`timeout`, `database_unavailable`, `shutting_down`)."));
            for (status, description) in answers {
                op.responses.responses.entry(status.to_owned()).or_insert_with(|| error(description));
            }
        }
    }
}

/// The complete application: routes, state and the request pipeline.
pub fn app(state_without_doc: impl FnOnce(Arc<String>) -> AppState) -> Router {
    let (router, mut doc) = api().split_for_parts();
    document_common_answers(&mut doc);
    let doc = Arc::new(doc.to_json().expect("the OpenAPI document serialises"));
    let state = state_without_doc(doc);
    let timeout = Duration::from_secs(state.config.request_timeout_secs);
    let max_body = state.config.max_body_bytes;
    let request_id = HeaderName::from_static("x-request-id");
    router
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state((Duration::from_millis(state.config.body_read_timeout_ms.max(1)), max_body), extract::read_body))
        .layer(middleware::from_fn(extract::refuse_nul))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn_with_state(timeout, time_limit))
        .layer(middleware::from_fn_with_state(state.clone(), record_metrics))
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("handler panicked");
            ApiError::new(protocol::ErrorCode::Internal, "Something went wrong on our side.")
                .into_response()
        }))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
                    // The path only (query strings may carry customers' names or numbers), and
                    // never a calendar feed's secret token.
                    let path = req.uri().path();
                    let path = if path.starts_with("/calendar/") { "/calendar/{token}" } else { path };
                    tracing::info_span!("request", request_id = %id, method = %req.method(), path = %path)
                })
                .on_response(tower_http::trace::DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .layer(SetSensitiveRequestHeadersLayer::new([header::AUTHORIZATION, header::COOKIE]))
        .with_state(state)
}

async fn route_not_found() -> ApiError {
    ApiError::new(protocol::ErrorCode::RouteNotFound, "There is no such endpoint.")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(protocol::ErrorCode::MethodNotAllowed, "This endpoint does not take that method.")
}

async fn time_limit(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(protocol::ErrorCode::Timeout, "The request took too long; please try again.")
            .into_response(),
    }
}

async fn record_metrics(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let started = Instant::now();
    let response = next.run(request).await;
    state.metrics.observe_request(&method, &route, response.status().as_u16(), started.elapsed());
    response
}

/// Liveness and database health.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, body = protocol::Health), (status = 503, body = protocol::ErrorBody)))]
async fn healthz(State(state): State<AppState>) -> Result<axum::Json<protocol::Health>, ApiError> {
    match state.db.ping().await {
        Ok(()) => Ok(axum::Json(protocol::Health {
            status: "ok".into(),
            database: format!("{:?}", state.db.engine()).to_lowercase(),
            version: env!("CARGO_PKG_VERSION").into(),
        })),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            Err(ApiError::new(protocol::ErrorCode::DatabaseUnavailable, "The database is not answering."))
        }
    }
}

/// Prometheus metrics (text exposition format).
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, content_type = "text/plain", body = String)))]
async fn metrics(State(state): State<AppState>) -> Response {
    let text = state.metrics.render(&state.db).await;
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, content_type = "application/json", body = Object)))]
async fn openapi_json(State(state): State<AppState>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], state.openapi.as_str().to_owned()).into_response()
}
