//! `/v1/canned-responses`: the business's saved replies, which staff insert from the composer.

use protocol::{CannedResponse, CreateCannedResponse, UpdateCannedResponse};
use switchboard_core::catalog::canned;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_canned, create_canned))
        .routes(routes!(get_canned, update_canned, delete_canned))
}

endpoint! {
    /// Every canned response, by shortcut.
    get "/v1/canned-responses" in "canned responses" => list_canned(page) -> Page<CannedResponse> [400, 401] = canned::list_canned;
    /// Adds a canned response (owners and admins).
    post "/v1/canned-responses" in "canned responses" => create_canned(body CreateCannedResponse) -> Created<CannedResponse> [403, 409, 422] = canned::create_canned;
    /// One canned response.
    get "/v1/canned-responses/{id}" in "canned responses" => get_canned(id "Canned response id") -> CannedResponse [404] = canned::get_canned;
    /// Changes a canned response (owners and admins).
    patch "/v1/canned-responses/{id}" in "canned responses" => update_canned(id "Canned response id", body UpdateCannedResponse) -> CannedResponse [403, 404, 409] = canned::update_canned;
    /// Deletes a canned response (owners and admins).
    delete "/v1/canned-responses/{id}" in "canned responses" => delete_canned(id "Canned response id") -> NoContent [403, 404] = canned::delete_canned;
}
