//! `/v1/customers`: the business's customers, searched by name, phone, WhatsApp id or email.

use axum::extract::State;
use protocol::{CreateCustomer, Customer, Page, UpdateCustomer};
use switchboard_core::customers;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::auth::Auth;
use crate::error::ApiError;
use crate::http::extract::Query;
use crate::http::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_customers, create_customer))
        .routes(routes!(get_customer, update_customer, delete_customer))
}

endpoint! {
    /// Adds a customer.
    post "/v1/customers" in "customers" => create_customer(body CreateCustomer) -> Created<Customer> [409, 422] = customers::create_customer;
    /// One customer.
    get "/v1/customers/{id}" in "customers" => get_customer(id "Customer id") -> Customer [404] = customers::get_customer;
    /// Changes a customer. Fields left out stay as they are; `null` clears one.
    patch "/v1/customers/{id}" in "customers" => update_customer(id "Customer id", body UpdateCustomer) -> Customer [404, 409, 422] = customers::update_customer;
    /// Removes a customer from lists and search (owners and admins). Their conversations stay.
    delete "/v1/customers/{id}" in "customers" => delete_customer(id "Customer id") -> NoContent [403, 404] = customers::delete_customer;
}

/// Customers, newest first; `q` searches names, phone numbers, WhatsApp ids and emails.
#[utoipa::path(get, path = "/v1/customers", tag = "customers", security(("bearer" = [])), params(("q" = Option<String>, Query, description = "Part of a name, phone number, WhatsApp id or email."), ("cursor" = Option<String>, Query, description = "From a previous page's `next_cursor`."), ("limit" = Option<u32>, Query, description = "1–200, default 50.")),
    responses((status = 200, body = Page<Customer>), (status = 400, body = protocol::ErrorBody)))]
async fn list_customers(
    State(state): State<AppState>,
    auth: Auth,
    Query(query): Query<customers::ListCustomers>,
) -> Result<axum::Json<Page<Customer>>, ApiError> {
    Ok(axum::Json(customers::list_customers(&state, &auth, query).await?))
}
