//! `/v1/services`: what the business offers, with duration, price and buffers.

use protocol::{CreateService, Service, UpdateService};
use switchboard_core::catalog::services;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_services, create_service))
        .routes(routes!(get_service, update_service, delete_service))
}

endpoint! {
    /// Every service, active or not, by name.
    get "/v1/services" in "services" => list_services(page) -> Page<Service> [400, 401] = services::list_services;
    /// Adds a service (owners and admins).
    post "/v1/services" in "services" => create_service(body CreateService) -> Created<Service> [403, 422] = services::create_service;
    /// One service.
    get "/v1/services/{id}" in "services" => get_service(id "Service id") -> Service [404] = services::get_service;
    /// Changes a service (owners and admins).
    patch "/v1/services/{id}" in "services" => update_service(id "Service id", body UpdateService) -> Service [403, 404, 422] = services::update_service;
    /// Removes a service (owners and admins). Past bookings keep it.
    delete "/v1/services/{id}" in "services" => delete_service(id "Service id") -> NoContent [403, 404] = services::delete_service;
}
