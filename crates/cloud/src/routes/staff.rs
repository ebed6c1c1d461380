//! `/v1/me`, `/v1/staff`, `/v1/invitations`.

use axum::extract::State;
use protocol::{CreateInvitation, CreatedInvitation, Invitation, Me, Staff, UpdateStaff};
use switchboard_core::accounts::staff;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::http::auth::Auth;
use crate::http::extract::Path;
use crate::http::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me))
        .routes(routes!(list_staff))
        .routes(routes!(get_staff, update_staff, deactivate_staff))
        .routes(routes!(list_invitations, create_invitation))
        .routes(routes!(revoke_invitation))
}

endpoint! {
    /// The signed-in staff member, with `permissions`: what their role lets them do (the console
    /// shows and hides by these names).
    get "/v1/me" in "staff" => me() -> Me [401] = staff::me;
    /// Everyone on the business's staff, active or not.
    get "/v1/staff" in "staff" => list_staff(page) -> Page<Staff> [400, 401] = staff::list;
    /// One staff member.
    get "/v1/staff/{id}" in "staff" => get_staff(id "Staff id") -> Staff [404] = staff::one;
    /// Changes a staff member's name, role or active flag (owners and admins; owners for owners).
    patch "/v1/staff/{id}" in "staff" => update_staff(id "Staff id", body UpdateStaff) -> Staff [403, 404, 409] = staff::update;
    /// Open and accepted invitations (revoked ones are left out).
    get "/v1/invitations" in "staff" => list_invitations(page) -> Page<Invitation> [400, 403] = staff::invitations;
    /// Invites someone by email. The token is returned once; send it to them.
    post "/v1/invitations" in "staff" => create_invitation(body CreateInvitation) -> Created<CreatedInvitation> [403, 409] = staff::invite;
    /// Withdraws an invitation that has not been accepted.
    delete "/v1/invitations/{id}" in "staff" => revoke_invitation(id "Invitation id") -> NoContent [403, 404] = staff::revoke_invitation;
}

/// Deactivates a staff member: their sessions end at once. History keeps their name.
#[utoipa::path(delete, path = "/v1/staff/{id}", tag = "staff", security(("bearer" = [])),
    params(("id" = String, Path, description = "Staff id")),
    responses((status = 200, body = Staff), (status = 403, body = protocol::ErrorBody), (status = 404, body = protocol::ErrorBody), (status = 409, body = protocol::ErrorBody)))]
async fn deactivate_staff(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<axum::Json<Staff>, ApiError> {
    let req = UpdateStaff { active: Some(false), ..UpdateStaff::default() };
    Ok(axum::Json(staff::update(&state, &auth, &id, req).await?))
}
