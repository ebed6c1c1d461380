//! Staff and invitations: who works the front desk, in which role, and how new people join.
//!
//! Deactivating a staff member ends every session they have at once (and their live WebSockets,
//! see `live`). What they made for others with a right they lose — deactivated, or no longer
//! allowed to manage staff (or owners) — ends in the same transaction: their open invitations,
//! the sign-in reset links they made for colleagues, the calendar feeds they made. A business
//! always keeps at least one active owner, and only owners can make or unmake owners.

use protocol::{CreateInvitation, CreatedInvitation, EntityKind, Invitation, Me, Role, Staff, UpdateStaff};
use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use crate::accounts::{normalise_email, random_token, required_text, revoke_all_sessions, role_allows, token_hash, Actor, Permission};
use crate::error::{AccountError, BookingError, Error};
use crate::store::columns::read_row;
use crate::store::records::{self, Record};
use crate::store::{BusinessTx, StoreError};
use crate::Core;

const INVITATION_DAYS: i64 = 7;

impl Record for Staff {
    const TABLE: &'static str = "staff";
    const COLUMNS: &'static str = "id, business_id, name, email, role, active, created_at, updated_at";
    const KIND: EntityKind = EntityKind::Staff;
    const NOUN: &'static str = "staff member";

    fn from_row(row: &AnyRow) -> Result<Staff, StoreError> {
        Ok(read_row!(row => Staff { id, business_id, name, email, role, active: flag, created_at, updated_at }))
    }
}

impl Record for Invitation {
    const TABLE: &'static str = "invitations";
    const COLUMNS: &'static str = "id, email, role, invited_by, created_at, expires_at, accepted_at";
    const KIND: EntityKind = EntityKind::Invitation;
    const NOUN: &'static str = "invitation";

    fn from_row(row: &AnyRow) -> Result<Invitation, StoreError> {
        Ok(read_row!(row => Invitation { id, email, role, invited_by, created_at, expires_at, accepted_at }))
    }
}

pub async fn load(conn: &mut AnyConnection, business_id: &str, id: &str) -> Result<Option<Staff>, StoreError> {
    records::find(conn, business_id, id).await
}

/// A staff member of the business, or `not_found`.
pub async fn get(conn: &mut AnyConnection, business_id: &str, id: &str) -> Result<Staff, Error> {
    records::get(conn, business_id, id).await
}

/// Refuses anyone who is not an active staff member of this business (`unknown_staff`).
pub async fn require_active(conn: &mut AnyConnection, business_id: &str, id: &str) -> Result<Staff, Error> {
    match load(conn, business_id, id).await? {
        Some(s) if s.active => Ok(s),
        Some(s) => Err(BookingError::StaffInactive { name: s.name }.into()),
        None => Err(BookingError::UnknownStaff.into()),
    }
}

/// The actor themselves, with what their role lets them do.
pub async fn me(core: &Core, actor: &Actor) -> Result<Me, Error> {
    let staff = get(&mut *core.db.reader().acquire().await?, &actor.business_id, &actor.staff_id).await?;
    let permissions = super::permissions(staff.role);
    Ok(Me { staff, permissions })
}

/// Everyone on the business's staff, active or not, by name, a page at a time.
pub async fn list(core: &Core, actor: &Actor, page: crate::store::PageQuery) -> Result<protocol::Page<Staff>, Error> {
    let paging = crate::store::Paging::new(page.cursor.as_deref(), page.limit)?;
    let staff: Vec<Staff> = records::list(&mut *core.db.reader().acquire().await?, &actor.business_id, "name, id").await?;
    Ok(paging.page_of(staff, crate::store::Order::Asc, |s| (crate::store::Key::Text(s.name.clone()), s.id.to_string()))?)
}

pub async fn one(core: &Core, actor: &Actor, id: &str) -> Result<Staff, Error> {
    get(&mut *core.db.reader().acquire().await?, &actor.business_id, id).await
}

async fn active_owners(tx: &mut BusinessTx) -> Result<i64, StoreError> {
    let business_id = tx.business_id().to_owned();
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM staff WHERE business_id = $1 AND role = 'owner' AND active = 1")
        .bind(business_id)
        .fetch_one(tx.conn())
        .await?)
}

/// Changes a staff member's name, role or active flag (owners and admins; owners for owners).
pub async fn update(core: &Core, actor: &Actor, id: &str, req: UpdateStaff) -> Result<Staff, Error> {
    actor.require(Permission::ManageStaff)?;
    let mut tx = core.db.begin_business(&actor.business_id).await?;
    let mut staff = get(tx.conn(), &actor.business_id, id).await?;
    let was_owner_and_active = staff.role == Role::Owner && staff.active;
    let touches_owner = staff.role == Role::Owner || req.role == Some(Role::Owner);
    if touches_owner && (req.role.is_some_and(|r| r != staff.role) || req.active.is_some_and(|a| a != staff.active)) {
        actor.require(Permission::ManageOwners)?;
    }
    let was_manager = role_allows(staff.role, Permission::ManageStaff);
    let made_owners = role_allows(staff.role, Permission::ManageOwners);
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
        return Err(AccountError::LastOwner.into());
    }
    let now = tx.now_ms();
    sqlx::query("UPDATE staff SET name = $1, role = $2, active = $3, updated_at = $4 WHERE id = $5 AND business_id = $6")
        .bind(&staff.name)
        .bind(staff.role)
        .bind(i64::from(staff.active))
        .bind(now)
        .bind(id)
        .bind(&actor.business_id)
        .execute(tx.conn())
        .await?;
    if !staff.active {
        revoke_all_sessions(tx.conn(), now, id, "deactivated").await?;
    }
    // Calendar feeds carry customers' names: they end with the person's access. Someone who
    // leaves loses every feed they made or that shows them; someone no longer allowed to manage
    // staff keeps only their own.
    if !staff.active {
        sqlx::query("UPDATE calendar_feeds SET revoked_at = $1 WHERE business_id = $2 AND (created_by = $3 OR staff_id = $3) AND revoked_at IS NULL")
            .bind(now)
            .bind(&actor.business_id)
            .bind(id)
            .execute(tx.conn())
            .await?;
    } else if was_manager && !role_allows(staff.role, Permission::ManageStaff) {
        sqlx::query(
            "UPDATE calendar_feeds SET revoked_at = $1 WHERE business_id = $2 AND created_by = $3 AND (staff_id IS NULL OR staff_id <> $3) \
             AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(&actor.business_id)
        .bind(id)
        .execute(tx.conn())
        .await?;
    }
    // So do the invitations they sent and the sign-in resets they made for colleagues: nobody
    // keeps, through what they set up before, a right that was taken away.
    let manages = staff.active && role_allows(staff.role, Permission::ManageStaff);
    if was_manager && !manages {
        withdraw_what_they_issued(&mut tx, actor, now, id, false).await?;
    } else if made_owners && !(staff.active && role_allows(staff.role, Permission::ManageOwners)) {
        withdraw_what_they_issued(&mut tx, actor, now, id, true).await?;
    }
    let staff: Staff = tx.publish(id).await?;
    tx.audit(Some(&actor.staff_id), "staff.updated", Some(("staff", id)), serde_json::to_value(&req).unwrap_or_default()).await?;
    tx.commit().await?;
    // Their open consoles learn of it at once (deactivated: closed; new role: re-checked).
    core.live.account_changed(core, &staff.id);
    Ok(staff)
}

/// Withdraws what `issuer` made for others with the right to manage staff — their open
/// invitations and the unused sign-in reset links they made for colleagues — or, with
/// `owners_only`, just what makes or resets an owner (they may still manage staff, but not
/// owners). Each withdrawal is audited as the `actor`'s.
async fn withdraw_what_they_issued(tx: &mut BusinessTx, actor: &Actor, now: i64, issuer: &str, owners_only: bool) -> Result<(), Error> {
    let business_id = tx.business_id().to_owned();
    let owners = if owners_only { " AND role = 'owner'" } else { "" };
    let withdrawn: Vec<String> = sqlx::query_scalar(&format!(
        "UPDATE invitations SET revoked_at = $1 WHERE business_id = $2 AND invited_by = $3 AND accepted_at IS NULL AND revoked_at IS NULL \
         AND expires_at > $1{owners} RETURNING id"
    ))
    .bind(now)
    .bind(&business_id)
    .bind(issuer)
    .fetch_all(tx.conn())
    .await?;
    for id in &withdrawn {
        tx.record::<Invitation>(EntityKind::Invitation, id, None).await?;
        tx.audit(Some(&actor.staff_id), "invitation.revoked", Some(("invitation", id)), serde_json::json!({"invited_by": issuer})).await?;
    }
    for reset in crate::accounts::security::revoke_links_issued_by(tx.conn(), now, issuer, owners_only).await? {
        tx.audit(Some(&actor.staff_id), "staff.sign_in_reset_revoked", Some(("staff", &reset)), serde_json::json!({"issued_by": issuer})).await?;
    }
    Ok(())
}

pub async fn load_invitation(conn: &mut AnyConnection, business_id: &str, id: &str) -> Result<Option<Invitation>, StoreError> {
    records::find(conn, business_id, id).await
}

/// Open and accepted invitations (revoked ones are left out), newest first, a page at a time.
pub async fn invitations(core: &Core, actor: &Actor, page: crate::store::PageQuery) -> Result<protocol::Page<Invitation>, Error> {
    actor.require(Permission::ManageStaff)?;
    let paging = crate::store::Paging::new(page.cursor.as_deref(), page.limit)?;
    let rows = sqlx::query(&format!(
        "SELECT {} FROM invitations WHERE business_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC",
        Invitation::COLUMNS
    ))
    .bind(&actor.business_id)
    .fetch_all(core.db.reader())
    .await?;
    let invitations = rows.iter().map(Invitation::from_row).collect::<Result<Vec<_>, _>>()?;
    Ok(paging.page_of(invitations, crate::store::Order::Desc, |i| (crate::store::Key::Int(i.created_at.as_millis()), i.id.to_string()))?)
}

/// Invites someone by email. The token is returned once; send it to them.
pub async fn invite(core: &Core, actor: &Actor, req: CreateInvitation) -> Result<CreatedInvitation, Error> {
    actor.require(Permission::ManageStaff)?;
    if req.role == Role::Owner {
        actor.require(Permission::ManageOwners)?;
    }
    let email = normalise_email(&req.email)?;
    let taken: Option<String> = sqlx::query_scalar("SELECT id FROM staff WHERE email = $1").bind(&email).fetch_optional(core.db.reader()).await?;
    if taken.is_some() {
        return Err(AccountError::EmailTaken.into());
    }
    let token = random_token();
    let id: String = core.db.new_id();
    let mut tx = core.db.begin_business(&actor.business_id).await?;
    let now = tx.now_ms();
    // Inviting someone again replaces their open invitation: the newest link is the one that works.
    let replaced: Vec<String> = sqlx::query_scalar(
        "UPDATE invitations SET revoked_at = $1 WHERE business_id = $2 AND email = $3 AND revoked_at IS NULL AND accepted_at IS NULL RETURNING id",
    )
    .bind(now)
    .bind(&actor.business_id)
    .bind(&email)
    .fetch_all(tx.conn())
    .await?;
    for old in &replaced {
        tx.record::<Invitation>(EntityKind::Invitation, old, None).await?;
    }
    sqlx::query(
        "INSERT INTO invitations (id, business_id, email, role, token_hash, invited_by, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&id)
    .bind(&actor.business_id)
    .bind(&email)
    .bind(req.role)
    .bind(token_hash(&token))
    .bind(&actor.staff_id)
    .bind(now)
    .bind(now + INVITATION_DAYS * 86_400_000)
    .execute(tx.conn())
    .await?;
    tx.audit(Some(&actor.staff_id), "invitation.created", Some(("invitation", &id)), serde_json::json!({"role": req.role})).await?;
    let invitation: Invitation = tx.publish(&id).await?;
    // With SMTP the invitee gets the link by mail too (the token is still returned to hand over).
    let business_name: String = sqlx::query_scalar("SELECT name FROM businesses WHERE id = $1").bind(&actor.business_id).fetch_one(tx.conn()).await?;
    let link = format!("{}/accept-invitation?token={token}", core.config.public_url.trim_end_matches('/'));
    let body = format!("You are invited to join {business_name} on Switchboard as {}.\n\nAccept here (the link works once, for {INVITATION_DAYS} days):\n{link}\n", req.role);
    if crate::mail::queue(tx.conn(), core, None, Some(&actor.business_id), crate::mail::MailKind::Invitation, &email, &format!("Join {business_name} on Switchboard"), &body).await? {
        tx.wake(crate::workers::Job::Mail);
    }
    tx.commit().await?;
    Ok(CreatedInvitation { invitation, token })
}

/// Withdraws an invitation that has not been accepted.
pub async fn revoke_invitation(core: &Core, actor: &Actor, id: &str) -> Result<(), Error> {
    actor.require(Permission::ManageStaff)?;
    let mut tx = core.db.begin_business(&actor.business_id).await?;
    let now = tx.now_ms();
    let revoked = sqlx::query("UPDATE invitations SET revoked_at = $1 WHERE id = $2 AND business_id = $3 AND revoked_at IS NULL AND accepted_at IS NULL")
        .bind(now)
        .bind(id)
        .bind(&actor.business_id)
        .execute(tx.conn())
        .await?
        .rows_affected();
    if revoked == 0 {
        return Err(Error::NotFound("open invitation"));
    }
    tx.audit(Some(&actor.staff_id), "invitation.revoked", Some(("invitation", id)), serde_json::json!({})).await?;
    tx.record::<Invitation>(EntityKind::Invitation, id, None).await?;
    tx.commit().await?;
    Ok(())
}
