//! `/v1/customers`: the business's customers, searched by name, phone, WhatsApp id or email.

use axum::extract::State;
use axum::http::StatusCode;
use protocol::{CreateCustomer, Customer, Page, UpdateCustomer};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::auth::Auth;
use crate::error::ApiError;
use crate::http::extract::{Json, Path, Query};
use crate::http::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_customers, create_customer))
        .routes(routes!(get_customer, update_customer, delete_customer))
}

/// Customers, newest first; `q` searches names, phone numbers, WhatsApp ids and emails.
#[utoipa::path(get, path = "/v1/customers", tag = "customers", security(("bearer" = [])), params(("q" = Option<String>, Query, description = "Part of a name, phone number, WhatsApp id or email."), ("cursor" = Option<String>, Query, description = "From a previous page's `next_cursor`."), ("limit" = Option<u32>, Query, description = "1–200, default 50.")),
    responses((status = 200, body = Page<Customer>), (status = 400, body = protocol::ErrorBody)))]
async fn list_customers(
    State(state): State<AppState>,
    auth: Auth,
    Query(query): Query<switchboard_core::customers::ListCustomers>,
) -> Result<axum::Json<Page<Customer>>, ApiError> {
    Ok(axum::Json(switchboard_core::customers::list_customers(&state, &auth, query).await?))
}

/// Adds a customer.
#[utoipa::path(post, path = "/v1/customers", tag = "customers", security(("bearer" = [])), request_body = CreateCustomer,
    responses((status = 201, body = Customer), (status = 409, body = protocol::ErrorBody), (status = 422, body = protocol::ErrorBody)))]
async fn create_customer(
    State(state): State<AppState>,
    auth: Auth,
    Json(req): Json<CreateCustomer>,
) -> Result<(StatusCode, axum::Json<Customer>), ApiError> {
    Ok((StatusCode::CREATED, axum::Json(switchboard_core::customers::create_customer(&state, &auth, req).await?)))
}

/// One customer.
#[utoipa::path(get, path = "/v1/customers/{id}", tag = "customers", security(("bearer" = [])),
    params(("id" = String, Path, description = "Customer id")),
    responses((status = 200, body = Customer), (status = 404, body = protocol::ErrorBody)))]
async fn get_customer(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<axum::Json<Customer>, ApiError> {
    Ok(axum::Json(switchboard_core::customers::get_customer(&state, &auth, &id).await?))
}

/// Changes a customer. Fields left out stay as they are; `null` clears one.
#[utoipa::path(patch, path = "/v1/customers/{id}", tag = "customers", security(("bearer" = [])), request_body = UpdateCustomer,
    params(("id" = String, Path, description = "Customer id")),
    responses((status = 200, body = Customer), (status = 404, body = protocol::ErrorBody), (status = 409, body = protocol::ErrorBody), (status = 422, body = protocol::ErrorBody)))]
async fn update_customer(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Json(req): Json<UpdateCustomer>,
) -> Result<axum::Json<Customer>, ApiError> {
    Ok(axum::Json(switchboard_core::customers::update_customer(&state, &auth, &id, req).await?))
}

/// Removes a customer from lists and search (owners and admins). Their conversations stay.
#[utoipa::path(delete, path = "/v1/customers/{id}", tag = "customers", security(("bearer" = [])),
    params(("id" = String, Path, description = "Customer id")),
    responses((status = 204), (status = 403, body = protocol::ErrorBody), (status = 404, body = protocol::ErrorBody)))]
async fn delete_customer(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    switchboard_core::customers::delete_customer(&state, &auth, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
