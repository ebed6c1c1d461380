//! Sync for the desktop console: the business's change log, pulled by cursor.
//!
//! The log holds one row per entity with its latest state (or a tombstone), numbered by a
//! per-business seq that is gap-free and in commit order (see `store.rs`), so "everything after
//! my cursor, in seq order" is exactly what a console is missing. Tombstones are compacted away
//! after a while; a console whose cursor is older than the compaction horizon might have missed a
//! deletion and gets 409 `resync_required`: it wipes its mirror (never its outbox) and pulls
//! from 0.

use axum::extract::State;
use axum::http::StatusCode;
use protocol::{MutationOp, MutationOutcome, PushRequest, PushResponse, SyncChange, SyncPage};
use serde::Deserialize;
use sqlx::Row;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::Auth;
use crate::error::ApiError;
use crate::http::extract::{Json, Query};
use crate::http::AppState;
use crate::store::{BusinessTx, MutationMark, Db, StoreError};
use crate::legacy::{now_ms};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(pull)).routes(routes!(push))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PullQuery {
    /// The `cursor` of the last page applied; 0 (or absent) for a first sync.
    cursor: Option<i64>,
    /// This device's client id: its recent mutations' outcomes come with the page.
    client_id: Option<String>,
    /// 1–2000, default 500.
    limit: Option<u32>,
}

/// The changes after `cursor`, in seq order. 409 `resync_required` when the cursor is older than
/// what the log still remembers: wipe the mirror and pull from 0.
#[utoipa::path(get, path = "/v1/sync/pull", tag = "sync", security(("bearer" = [])), params(PullQuery),
    responses((status = 200, body = SyncPage), (status = 409, body = protocol::ErrorBody)))]
async fn pull(State(state): State<AppState>, auth: Auth, Query(q): Query<PullQuery>) -> Result<axum::Json<SyncPage>, ApiError> {
    let cursor = q.cursor.unwrap_or(0);
    if cursor < 0 {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "invalid_cursor", "The cursor is not valid."));
    }
    let limit = i64::from(q.limit.unwrap_or(500).clamp(1, 2000));
    let mut conn = state.db.reader().acquire().await?;
    let row = sqlx::query("SELECT last_seq, compacted_through FROM businesses WHERE id = $1")
        .bind(&auth.business_id)
        .fetch_one(&mut *conn)
        .await?;
    let (last_seq, horizon): (i64, i64) = (row.try_get("last_seq")?, row.try_get("compacted_through")?);
    if cursor > 0 && cursor < horizon {
        return Err(ApiError::conflict("resync_required", "This device has been offline too long to catch up; it will reload everything.")
            .with_details(serde_json::json!({"horizon": horizon})));
    }
    if cursor > last_seq {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "invalid_cursor", "The cursor is ahead of this business's changes."));
    }
    let rows = sqlx::query("SELECT seq, entity, entity_id, data FROM changes WHERE business_id = $1 AND seq > $2 ORDER BY seq LIMIT $3")
        .bind(&auth.business_id)
        .bind(cursor)
        .bind(limit + 1)
        .fetch_all(&mut *conn)
        .await?;
    let has_more = rows.len() as i64 > limit;
    let mut changes = Vec::with_capacity(rows.len().min(limit as usize));
    for row in rows.iter().take(limit as usize) {
        let data: Option<String> = row.try_get("data")?;
        changes.push(SyncChange {
            seq: row.try_get("seq")?,
            entity: row.try_get("entity")?,
            id: row.try_get("entity_id")?,
            data: data.map(|d| crate::store::json_column(&d, "changes.data")).transpose()?,
        });
    }
    // Nothing newer than the cursor is skipped: seqs are gap-free in commit order, so a page
    // ends exactly where the next one starts.
    let next = changes.last().map(|c| c.seq).unwrap_or(cursor);
    let outcomes = match &q.client_id {
        Some(client_id) => recent_outcomes(&mut conn, &auth, client_id).await?,
        None => vec![],
    };
    Ok(axum::Json(SyncPage { changes, cursor: next, has_more, outcomes }))
}

async fn recent_outcomes(conn: &mut sqlx::AnyConnection, auth: &Auth, client_id: &str) -> Result<Vec<MutationOutcome>, ApiError> {
    let rows = sqlx::query(
        "SELECT outcome FROM sync_mutations WHERE client_id = $1 AND business_id = $2 AND client_id IN \
         (SELECT client_id FROM sync_clients WHERE staff_id = $3) ORDER BY mutation_id DESC LIMIT 100",
    )
    .bind(client_id)
    .bind(&auth.business_id)
    .bind(&auth.staff_id)
    .fetch_all(conn)
    .await?;
    let mut outcomes = rows.iter().map(|r| Ok(crate::store::json_column(&r.try_get::<String, _>("outcome")?, "sync_mutations.outcome")?)).collect::<Result<Vec<MutationOutcome>, ApiError>>()?;
    outcomes.reverse();
    Ok(outcomes)
}

/// Binds a client id to the signed-in staff member on first use; refuses it for anyone else.
async fn bind_client(state: &AppState, auth: &Auth, client_id: &str) -> Result<(), ApiError> {
    let valid = !client_id.is_empty() && client_id.len() <= 64 && client_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !valid {
        return Err(ApiError::validation("`client_id` is the device's id: letters, digits and `-`, at most 64."));
    }
    let now = now_ms();
    sqlx::query(
        "INSERT INTO sync_clients (client_id, business_id, staff_id, created_at, last_seen_at) VALUES ($1, $2, $3, $4, $4) \
         ON CONFLICT (client_id) DO NOTHING",
    )
    .bind(client_id)
    .bind(&auth.business_id)
    .bind(&auth.staff_id)
    .bind(now)
    .execute(state.db.writer())
    .await?;
    let owner = sqlx::query("SELECT staff_id, business_id FROM sync_clients WHERE client_id = $1").bind(client_id).fetch_one(state.db.writer()).await?;
    if owner.try_get::<String, _>("staff_id")? != auth.staff_id || owner.try_get::<String, _>("business_id")? != auth.business_id {
        return Err(ApiError::forbidden("This device id belongs to someone else's sign-in."));
    }
    sqlx::query("UPDATE sync_clients SET last_seen_at = $1 WHERE client_id = $2").bind(now).bind(client_id).execute(state.db.writer()).await?;
    Ok(())
}

/// Applies one mutation with the same rules and permissions as the REST API. Everything it
/// creates carries the id the console made, so applying it again is a no-op.
async fn apply(tx: &mut BusinessTx, auth: &Auth, op: &MutationOp) -> Result<Option<serde_json::Value>, ApiError> {
    use crate::accounts::Permission::HandleConversations;
    match op {
        MutationOp::SendMessage { conversation_id, message_id, body } => {
            auth.require(HandleConversations)?;
            let body = crate::accounts::required_text(body, "body", 4096)?;
            let outgoing = crate::providers::Outgoing::Text { body: body.clone() };
            let (_, message) =
                crate::outbox::queue(tx, auth, conversation_id, Some(message_id.to_string()), body, protocol::MessageKind::Text, outgoing).await?;
            Ok(Some(serde_json::json!({"message_id": message.id})))
        }
        MutationOp::TakeOver { conversation_id } | MutationOp::HandBack { conversation_id } => {
            auth.require(HandleConversations)?;
            let c = if matches!(op, MutationOp::TakeOver { .. }) {
                crate::control::take_over(tx, conversation_id, &auth.staff_id).await?
            } else {
                crate::control::hand_back(tx, conversation_id, Some(auth), "").await?
            };
            Ok(Some(serde_json::json!({"mode": c.mode, "holder_staff_id": c.holder_staff_id})))
        }
        MutationOp::SendTemplate { conversation_id, message_id, template_id, variables } => {
            let req = protocol::SendTemplate { template_id: template_id.clone(), variables: variables.clone(), client_message_id: Some(message_id.clone()) };
            let (_, message) = crate::outbox::queue_template(tx, auth, conversation_id, req).await?;
            Ok(Some(serde_json::json!({"message_id": message.id})))
        }
        MutationOp::UseCannedResponse { conversation_id, message_id, canned_response_id } => {
            auth.require(HandleConversations)?;
            let canned = crate::canned_responses::load(tx.conn(), &auth.business_id, canned_response_id)
                .await?
                .ok_or_else(|| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "unknown_canned_response", "That saved reply no longer exists."))?;
            let outgoing = crate::providers::Outgoing::Text { body: canned.body.clone() };
            let (_, message) =
                crate::outbox::queue(tx, auth, conversation_id, Some(message_id.to_string()), canned.body, protocol::MessageKind::Text, outgoing).await?;
            Ok(Some(serde_json::json!({"message_id": message.id})))
        }
        MutationOp::Assign { conversation_id, staff_id } => {
            let req = protocol::UpdateConversation { assignee_staff_id: Some(staff_id.clone()), ..Default::default() };
            let c = crate::conversations::apply_update(tx, auth, conversation_id, req).await?;
            Ok(Some(serde_json::json!({"assignee_staff_id": c.assignee_staff_id})))
        }
        MutationOp::UpdateCustomer { customer_id, changes } => {
            crate::customers::apply_update(tx, auth, customer_id, changes.clone()).await?;
            Ok(None)
        }
        MutationOp::MarkRead { conversation_id } => {
            let req = protocol::UpdateConversation { mark_read: Some(true), ..Default::default() };
            crate::conversations::apply_update(tx, auth, conversation_id, req).await?;
            Ok(None)
        }
        MutationOp::SetStatus { conversation_id, status } => {
            let req = protocol::UpdateConversation { status: Some(*status), ..Default::default() };
            crate::conversations::apply_update(tx, auth, conversation_id, req).await?;
            Ok(None)
        }
        MutationOp::AddNote { conversation_id, note_id, body } => {
            let note = crate::conversations::add_note(tx, auth, conversation_id, Some(note_id.to_string()), body).await?;
            Ok(Some(serde_json::json!({"note_id": note.id})))
        }
        MutationOp::CreateBooking { booking_id, customer_id, service_id, start, staff_id, notes } => {
            auth.require(HandleConversations)?;
            let tz = business_tz(tx).await?;
            let new = crate::bookings::NewBooking {
                id: Some(booking_id.to_string()),
                customer_id: customer_id.to_string(),
                service_id: service_id.to_string(),
                staff_id: staff_id.as_ref().map(|s| s.to_string()),
                start: crate::bookings::parse_start(start, &tz)?,
                notes: notes.clone(),
                source: protocol::BookingSource::Staff,
                status: protocol::BookingStatus::Confirmed,
                created_by_staff_id: Some(auth.staff_id.clone()),
            };
            let booking = crate::bookings::create(tx, new).await?;
            Ok(Some(serde_json::json!({"booking_id": booking.id, "version": booking.version})))
        }
        MutationOp::RescheduleBooking { booking_id, expected_version, start, staff_id } => {
            auth.require(HandleConversations)?;
            let tz = business_tz(tx).await?;
            let change = crate::bookings::BookingChange {
                expected_version: *expected_version,
                start: Some(crate::bookings::parse_start(start, &tz)?),
                staff_id: staff_id.as_ref().map(|s| s.to_string()),
                ..Default::default()
            };
            changed_booking(tx, auth, booking_id, change).await
        }
        MutationOp::CancelBooking { booking_id, expected_version, reason } => {
            auth.require(HandleConversations)?;
            let change = crate::bookings::BookingChange {
                expected_version: *expected_version,
                status: Some(protocol::BookingStatus::Cancelled),
                cancel_reason: reason.clone(),
                ..Default::default()
            };
            changed_booking(tx, auth, booking_id, change).await
        }
        MutationOp::Unreadable { name, reason } => Err(if MutationOp::NAMES.contains(&name.as_str()) {
            ApiError::validation(format!("`{name}` could not be read: {reason}"))
        } else {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "unknown_mutation", format!("There is no mutation called `{name}`."))
        }),
    }
}

async fn business_tz(tx: &mut BusinessTx) -> Result<jiff::tz::TimeZone, ApiError> {
    let business_id = tx.business_id().to_owned();
    let name: String = sqlx::query_scalar("SELECT timezone FROM businesses WHERE id = $1").bind(business_id).fetch_one(tx.conn()).await?;
    jiff::tz::TimeZone::get(&name).map_err(ApiError::internal)
}

async fn changed_booking(tx: &mut BusinessTx, auth: &Auth, id: &str, change: crate::bookings::BookingChange) -> Result<Option<serde_json::Value>, ApiError> {
    let booking = crate::bookings::update(tx, id, change, Some(&auth.staff_id), protocol::BookingSource::Staff).await?;
    Ok(Some(serde_json::json!({"booking_id": booking.id, "version": booking.version, "status": booking.status})))
}

/// Applies a console's mutations in order, each on its own. Already-applied ids get their first
/// outcome again (a replay after a lost answer changes nothing); a missing id stops the batch
/// (`expected_id`); a refusal (validation, conflict) is that mutation's outcome and the batch
/// goes on; a server fault is a 5xx and the console retries.
#[utoipa::path(post, path = "/v1/sync/push", tag = "sync", security(("bearer" = [])), request_body = PushRequest,
    responses((status = 200, body = PushResponse), (status = 403, body = protocol::ErrorBody), (status = 422, body = protocol::ErrorBody)))]
async fn push(State(state): State<AppState>, auth: Auth, Json(req): Json<PushRequest>) -> Result<axum::Json<PushResponse>, ApiError> {
    bind_client(&state, &auth, &req.client_id).await?;
    if req.mutations.len() > 500 {
        return Err(ApiError::validation("Push at most 500 mutations at a time."));
    }
    let mut outcomes = Vec::with_capacity(req.mutations.len());
    let mut last: i64 = sqlx::query_scalar::<_, Option<i64>>("SELECT MAX(mutation_id) FROM sync_mutations WHERE client_id = $1")
        .bind(&req.client_id)
        .fetch_one(state.db.writer())
        .await?
        .unwrap_or(0);
    for m in &req.mutations {
        if m.id <= last {
            let stored: Option<String> = sqlx::query_scalar("SELECT outcome FROM sync_mutations WHERE client_id = $1 AND mutation_id = $2")
                .bind(&req.client_id)
                .bind(m.id)
                .fetch_optional(state.db.writer())
                .await?;
            if let Some(stored) = stored {
                outcomes.push(crate::store::json_column(&stored, "sync_mutations.outcome")?);
            }
            continue;
        }
        if m.id != last + 1 {
            return Ok(axum::Json(PushResponse { outcomes, expected_id: Some(last + 1) }));
        }
        let mark = MutationMark { client_id: req.client_id.clone(), mutation_id: m.id, name: m.op.name().to_owned() };
        let mut tx = state.db.begin_mutation(&auth.business_id, mark).await?;
        let applied = apply(&mut tx, &auth, &m.op).await;
        let outcome = match applied {
            Ok(details) => {
                // The commit that applies it also marks it applied.
                tx.commit_even_if_unchanged().await?;
                MutationOutcome { id: m.id, ok: true, code: None, message: None, details }
            }
            Err(e) => {
                tx.rollback().await?;
                refused(m.id, e)?
            }
        };
        // The commit that applied it marked it applied; now its full outcome. (A refusal
        // committed nothing, so it is recorded here for the first time.)
        sqlx::query(
            "INSERT INTO sync_mutations (client_id, mutation_id, business_id, name, outcome, applied_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (client_id, mutation_id) DO UPDATE SET outcome = excluded.outcome",
        )
            .bind(&req.client_id)
            .bind(m.id)
            .bind(&auth.business_id)
            .bind(m.op.name())
            .bind(serde_json::to_string(&outcome).map_err(ApiError::internal)?)
            .bind(now_ms())
            .execute(state.db.writer())
            .await?;
        last = m.id;
        outcomes.push(outcome);
    }
    Ok(axum::Json(PushResponse { outcomes, expected_id: None }))
}

/// A refusal is the mutation's outcome. Our own fault is not: nothing was applied, and the
/// console retries the batch from here.
fn refused(id: i64, e: ApiError) -> Result<MutationOutcome, ApiError> {
    match e {
        ApiError::Client { code, message, details, .. } => {
            Ok(MutationOutcome { id, ok: false, code: protocol::ErrorCode::parse(code), message: Some(message), details })
        }
        ApiError::RateLimited { .. } => Ok(MutationOutcome { id, ok: false, code: Some(protocol::ErrorCode::RateLimited), message: None, details: None }),
        e => Err(e),
    }
}

/// Removes tombstones older than `older_than_ms` and moves the business's horizon past them.
/// Returns how many were removed.
pub async fn compact(db: &Db, business_id: &str, older_than_ms: i64) -> Result<u64, StoreError> {
    let mut tx = db.writer().begin().await?;
    let highest: Option<i64> =
        sqlx::query_scalar("SELECT MAX(seq) FROM changes WHERE business_id = $1 AND data IS NULL AND changed_at < $2")
            .bind(business_id)
            .bind(older_than_ms)
            .fetch_one(&mut *tx)
            .await?;
    let Some(highest) = highest else {
        tx.rollback().await?;
        return Ok(0);
    };
    let removed = sqlx::query("DELETE FROM changes WHERE business_id = $1 AND data IS NULL AND seq <= $2")
        .bind(business_id)
        .bind(highest)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    sqlx::query("UPDATE businesses SET compacted_through = $1 WHERE id = $2 AND compacted_through < $1")
        .bind(highest)
        .bind(business_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(removed)
}
