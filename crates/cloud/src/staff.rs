//! Staff and invitations: who works the front desk, in which role, and how new people join.
//!
//! Deactivating a staff member ends every session they have at once. A business always keeps at
//! least one active owner, and only owners can make or unmake owners.

use protocol::EntityKind;
use axum::extract::State;
use axum::http::StatusCode;
use protocol::{CreateInvitation, CreatedInvitation, Invitation, Role, Staff, UpdateStaff};
use sqlx::any::AnyRow;
use sqlx::AnyConnection;
use sqlx::Row;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::{normalise_email, required_text, revoke_all_sessions, token_hash, Auth, Permission};
use crate::error::ApiError;
use crate::http::extract::{Json, Path};
use crate::http::AppState;
use crate::store::{rfc3339, BusinessTx, StoreError};
use crate::legacy::{new_id, now_ms};

const INVITATION_DAYS: i64 = 7;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me))
        .routes(routes!(list_staff))
        .routes(routes!(get_staff, update_staff, deactivate_staff))
        .routes(routes!(list_invitations, create_invitation))
        .routes(routes!(revoke_invitation))
}

const COLUMNS: &str = "id, business_id, name, email, role, active, created_at, updated_at";

fn from_row(row: &AnyRow) -> Result<Staff, StoreError> {
    let role: String = row.try_get("role")?;
    Ok(Staff {
        id: row.try_get("id")?,
        business_id: row.try_get("business_id")?,
        name: row.try_get("name")?,
        email: row.try_get("email")?,
        role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("staff role {role}")))?,
        active: row.try_get::<i64, _>("active")? != 0,
        created_at: rfc3339(row.try_get("created_at")?),
        updated_at: rfc3339(row.try_get("updated_at")?),
    })
}

pub async fn load(conn: &mut AnyConnection, business_id: &str, id: &str) -> Result<Option<Staff>, StoreError> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM staff WHERE id = $1 AND business_id = $2"))
        .bind(id)
        .bind(business_id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Refuses anyone who is not an active staff member of this business (`unknown_staff`).
pub async fn require_active(conn: &mut AnyConnection, business_id: &str, id: &str) -> Result<Staff, crate::error::ApiError> {
    match load(conn, business_id, id).await? {
        Some(s) if s.active => Ok(s),
        _ => Err(crate::error::ApiError::new(axum::http::StatusCode::UNPROCESSABLE_ENTITY, "unknown_staff", "No such staff member.")),
    }
}

/// The signed-in staff member.
#[utoipa::path(get, path = "/v1/me", tag = "staff", security(("bearer" = [])),
    responses((status = 200, body = Staff), (status = 401, body = protocol::ErrorBody)))]
async fn me(State(state): State<AppState>, auth: Auth) -> Result<axum::Json<Staff>, ApiError> {
    let mut conn = state.db.reader().acquire().await?;
    let staff = load(&mut conn, &auth.business_id, &auth.staff_id).await?.ok_or_else(|| ApiError::not_found("staff member"))?;
    Ok(axum::Json(staff))
}

/// Everyone on the business's staff, active or not.
#[utoipa::path(get, path = "/v1/staff", tag = "staff", security(("bearer" = [])),
    responses((status = 200, body = Vec<Staff>), (status = 401, body = protocol::ErrorBody)))]
async fn list_staff(State(state): State<AppState>, auth: Auth) -> Result<axum::Json<Vec<Staff>>, ApiError> {
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM staff WHERE business_id = $1 ORDER BY name, id"))
        .bind(&auth.business_id)
        .fetch_all(state.db.reader())
        .await?;
    Ok(axum::Json(rows.iter().map(from_row).collect::<Result<_, _>>()?))
}

/// One staff member.
#[utoipa::path(get, path = "/v1/staff/{id}", tag = "staff", security(("bearer" = [])),
    params(("id" = String, Path, description = "Staff id")),
    responses((status = 200, body = Staff), (status = 404, body = protocol::ErrorBody)))]
async fn get_staff(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<axum::Json<Staff>, ApiError> {
    let mut conn = state.db.reader().acquire().await?;
    let staff = load(&mut conn, &auth.business_id, &id).await?.ok_or_else(|| ApiError::not_found("staff member"))?;
    Ok(axum::Json(staff))
}

async fn active_owners(tx: &mut BusinessTx) -> Result<i64, StoreError> {
    let business_id = tx.business_id().to_owned();
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM staff WHERE business_id = $1 AND role = 'owner' AND active = 1")
        .bind(business_id)
        .fetch_one(tx.conn())
        .await?)
}

async fn apply_update(state: &AppState, auth: &Auth, id: &str, req: UpdateStaff) -> Result<Staff, ApiError> {
    auth.require(Permission::ManageStaff)?;
    let mut tx = state.db.begin_business(&auth.business_id).await?;
    let mut staff = load(tx.conn(), &auth.business_id, id).await?.ok_or_else(|| ApiError::not_found("staff member"))?;
    let was_owner_and_active = staff.role == Role::Owner && staff.active;
    let touches_owner = staff.role == Role::Owner || req.role == Some(Role::Owner);
    if touches_owner && (req.role.is_some_and(|r| r != staff.role) || req.active.is_some_and(|a| a != staff.active)) {
        auth.require(Permission::ManageOwners)?;
    }
    let was_manager = crate::accounts::role_allows(staff.role, Permission::ManageStaff);
    if let Some(name) = &req.name {
        staff.name = required_text(name, "name", 200)?;
    }
    if let Some(role) = req.role {
        staff.role = role;
    }
    if let Some(active) = req.active {
        staff.active = active;
    }
    if was_owner_and_active && !(staff.role == Role::Owner && staff.active) && active_owners(&mut tx).await? <= 1 {
        return Err(ApiError::conflict("last_owner", "A business needs at least one active owner. Make someone else an owner first."));
    }
    sqlx::query("UPDATE staff SET name = $1, role = $2, active = $3, updated_at = $4 WHERE id = $5 AND business_id = $6")
        .bind(&staff.name)
        .bind(staff.role.as_str())
        .bind(i64::from(staff.active))
        .bind(now_ms())
        .bind(id)
        .bind(&auth.business_id)
        .execute(tx.conn())
        .await?;
    if !staff.active {
        revoke_all_sessions(tx.conn(), id, "deactivated").await?;
    }
    // Calendar feeds carry customers' names: they end with the person's access. Someone who
    // leaves loses every feed they made or that shows them; someone no longer allowed to manage
    // staff keeps only their own.
    if !staff.active {
        sqlx::query("UPDATE calendar_feeds SET revoked_at = $1 WHERE business_id = $2 AND (created_by = $3 OR staff_id = $3) AND revoked_at IS NULL")
            .bind(now_ms())
            .bind(&auth.business_id)
            .bind(id)
            .execute(tx.conn())
            .await?;
    } else if was_manager && !crate::accounts::role_allows(staff.role, Permission::ManageStaff) {
        sqlx::query(
            "UPDATE calendar_feeds SET revoked_at = $1 WHERE business_id = $2 AND created_by = $3 AND (staff_id IS NULL OR staff_id <> $3) \
             AND revoked_at IS NULL",
        )
        .bind(now_ms())
        .bind(&auth.business_id)
        .bind(id)
        .execute(tx.conn())
        .await?;
    }
    let staff = load(tx.conn(), &auth.business_id, id).await?.ok_or_else(|| ApiError::not_found("staff member"))?;
    tx.record(EntityKind::Staff, id, Some(&staff)).await?;
    tx.audit(Some(&auth.staff_id), "staff.updated", Some(("staff", id)), serde_json::to_value(&req).unwrap_or_default()).await?;
    tx.commit().await?;
    Ok(staff)
}

/// Changes a staff member's name, role or active flag (owners and admins; owners for owners).
#[utoipa::path(patch, path = "/v1/staff/{id}", tag = "staff", security(("bearer" = [])), request_body = UpdateStaff,
    params(("id" = String, Path, description = "Staff id")),
    responses((status = 200, body = Staff), (status = 403, body = protocol::ErrorBody), (status = 404, body = protocol::ErrorBody), (status = 409, body = protocol::ErrorBody)))]
async fn update_staff(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Json(req): Json<UpdateStaff>,
) -> Result<axum::Json<Staff>, ApiError> {
    Ok(axum::Json(apply_update(&state, &auth, &id, req).await?))
}

/// Deactivates a staff member: their sessions end at once. History keeps their name.
#[utoipa::path(delete, path = "/v1/staff/{id}", tag = "staff", security(("bearer" = [])),
    params(("id" = String, Path, description = "Staff id")),
    responses((status = 200, body = Staff), (status = 403, body = protocol::ErrorBody), (status = 404, body = protocol::ErrorBody), (status = 409, body = protocol::ErrorBody)))]
async fn deactivate_staff(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<axum::Json<Staff>, ApiError> {
    let req = UpdateStaff { active: Some(false), ..UpdateStaff::default() };
    Ok(axum::Json(apply_update(&state, &auth, &id, req).await?))
}

fn invitation_from_row(row: &AnyRow) -> Result<Invitation, StoreError> {
    let role: String = row.try_get("role")?;
    Ok(Invitation {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("invitation role {role}")))?,
        invited_by: row.try_get("invited_by")?,
        created_at: rfc3339(row.try_get("created_at")?),
        expires_at: rfc3339(row.try_get("expires_at")?),
        accepted_at: row.try_get::<Option<i64>, _>("accepted_at")?.map(rfc3339),
    })
}

pub async fn load_invitation(conn: &mut AnyConnection, business_id: &str, id: &str) -> Result<Option<Invitation>, StoreError> {
    let row = sqlx::query(
        "SELECT id, email, role, invited_by, created_at, expires_at, accepted_at FROM invitations WHERE id = $1 AND business_id = $2",
    )
    .bind(id)
    .bind(business_id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(invitation_from_row).transpose()
}

/// Open and accepted invitations (revoked ones are left out).
#[utoipa::path(get, path = "/v1/invitations", tag = "staff", security(("bearer" = [])),
    responses((status = 200, body = Vec<Invitation>), (status = 403, body = protocol::ErrorBody)))]
async fn list_invitations(State(state): State<AppState>, auth: Auth) -> Result<axum::Json<Vec<Invitation>>, ApiError> {
    auth.require(Permission::ManageStaff)?;
    let rows = sqlx::query(
        "SELECT id, email, role, invited_by, created_at, expires_at, accepted_at FROM invitations \
         WHERE business_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC",
    )
    .bind(&auth.business_id)
    .fetch_all(state.db.reader())
    .await?;
    Ok(axum::Json(rows.iter().map(invitation_from_row).collect::<Result<_, _>>()?))
}

/// Invites someone by email. The token is returned once; send it to them.
#[utoipa::path(post, path = "/v1/invitations", tag = "staff", security(("bearer" = [])), request_body = CreateInvitation,
    responses((status = 201, body = CreatedInvitation), (status = 403, body = protocol::ErrorBody), (status = 409, body = protocol::ErrorBody)))]
async fn create_invitation(
    State(state): State<AppState>,
    auth: Auth,
    Json(req): Json<CreateInvitation>,
) -> Result<(StatusCode, axum::Json<CreatedInvitation>), ApiError> {
    auth.require(Permission::ManageStaff)?;
    if req.role == Role::Owner {
        auth.require(Permission::ManageOwners)?;
    }
    let email = normalise_email(&req.email)?;
    let taken: Option<String> = sqlx::query_scalar("SELECT id FROM staff WHERE email = $1")
        .bind(&email)
        .fetch_optional(state.db.reader())
        .await?;
    if taken.is_some() {
        return Err(ApiError::conflict("email_taken", "Someone with this email already has an account."));
    }
    let token = {
        use base64::Engine as _;
        let mut bytes = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    };
    let id = new_id();
    let now = now_ms();
    let mut tx = state.db.begin_business(&auth.business_id).await?;
    sqlx::query(
        "INSERT INTO invitations (id, business_id, email, role, token_hash, invited_by, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&id)
    .bind(&auth.business_id)
    .bind(&email)
    .bind(req.role.as_str())
    .bind(token_hash(&token))
    .bind(&auth.staff_id)
    .bind(now)
    .bind(now + INVITATION_DAYS * 86_400_000)
    .execute(tx.conn())
    .await?;
    tx.audit(Some(&auth.staff_id), "invitation.created", Some(("invitation", &id)), serde_json::json!({"role": req.role})).await?;
    let invitation = load_invitation(tx.conn(), &auth.business_id, &id).await?.ok_or_else(|| ApiError::not_found("invitation"))?;
    tx.record(EntityKind::Invitation, &id, Some(&invitation)).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(CreatedInvitation { invitation, token })))
}

/// Withdraws an invitation that has not been accepted.
#[utoipa::path(delete, path = "/v1/invitations/{id}", tag = "staff", security(("bearer" = [])),
    params(("id" = String, Path, description = "Invitation id")),
    responses((status = 204), (status = 404, body = protocol::ErrorBody)))]
async fn revoke_invitation(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    auth.require(Permission::ManageStaff)?;
    let mut tx = state.db.begin_business(&auth.business_id).await?;
    let revoked = sqlx::query(
        "UPDATE invitations SET revoked_at = $1 WHERE id = $2 AND business_id = $3 AND revoked_at IS NULL AND accepted_at IS NULL",
    )
    .bind(now_ms())
    .bind(&id)
    .bind(&auth.business_id)
    .execute(tx.conn())
    .await?
    .rows_affected();
    if revoked == 0 {
        return Err(ApiError::not_found("open invitation"));
    }
    tx.audit(Some(&auth.staff_id), "invitation.revoked", Some(("invitation", &id)), serde_json::json!({})).await?;
    tx.record::<Invitation>(EntityKind::Invitation, &id, None).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
