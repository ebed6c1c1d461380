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
use protocol::{Mutation, MutationOutcome, PushRequest, PushResponse, SyncChange, SyncPage};
use serde::Deserialize;
use sqlx::Row;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::Auth;
use crate::error::ApiError;
use crate::http::extract::{Json, Query};
use crate::http::AppState;
use crate::store::{now_ms, Db, StoreError};

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

fn text_arg<'a>(args: &'a serde_json::Value, name: &str) -> Result<&'a str, ApiError> {
    args[name].as_str().ok_or_else(|| ApiError::validation(format!("`{name}` is required.")))
}

/// Applies one mutation with the same rules and permissions as the REST API. Everything it
/// creates carries the id the console made, so applying it again is a no-op.
async fn apply(state: &AppState, auth: &Auth, m: &Mutation) -> Result<Option<serde_json::Value>, ApiError> {
    let conversation = || text_arg(&m.args, "conversation_id");
    match m.name.as_str() {
        "send_message" => {
            auth.require(crate::accounts::Permission::HandleConversations)?;
            let body = crate::accounts::required_text(text_arg(&m.args, "body")?, "body", 4096)?;
            let message_id = text_arg(&m.args, "message_id")?.to_owned();
            let outgoing = crate::providers::Outgoing::Text { body: body.clone() };
            let (_, message) =
                crate::outbox::queue(state, auth, conversation()?, Some(message_id), body, protocol::MessageKind::Text, outgoing).await?;
            Ok(Some(serde_json::json!({"message_id": message.0.id})))
        }
        "take_over" | "hand_back" => {
            auth.require(crate::accounts::Permission::HandleConversations)?;
            let mut tx = state.db.begin_business(&auth.business_id).await?;
            let c = if m.name == "take_over" {
                crate::control::take_over(&mut tx, conversation()?, &auth.staff_id).await?
            } else {
                crate::control::hand_back(&mut tx, conversation()?, Some(auth), "").await?
            };
            tx.commit_even_if_unchanged().await?;
            Ok(Some(serde_json::json!({"mode": c.mode, "holder_staff_id": c.holder_staff_id})))
        }
        "send_template" => {
            let req = protocol::SendTemplate {
                template_id: text_arg(&m.args, "template_id")?.to_owned(),
                variables: serde_json::from_value(m.args["variables"].clone()).unwrap_or_default(),
                client_message_id: Some(text_arg(&m.args, "message_id")?.to_owned()),
            };
            let (_, message) = crate::outbox::queue_template(state, auth, conversation()?, req).await?;
            Ok(Some(serde_json::json!({"message_id": message.0.id})))
        }
        "use_canned_response" => {
            auth.require(crate::accounts::Permission::HandleConversations)?;
            let canned = {
                let mut conn = state.db.reader().acquire().await?;
                crate::canned_responses::load(&mut conn, &auth.business_id, text_arg(&m.args, "canned_response_id")?)
                    .await?
                    .ok_or_else(|| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "unknown_canned_response", "That saved reply no longer exists."))?
            };
            let message_id = text_arg(&m.args, "message_id")?.to_owned();
            let outgoing = crate::providers::Outgoing::Text { body: canned.body.clone() };
            let (_, message) =
                crate::outbox::queue(state, auth, conversation()?, Some(message_id), canned.body, protocol::MessageKind::Text, outgoing).await?;
            Ok(Some(serde_json::json!({"message_id": message.0.id})))
        }
        "assign" => {
            let assignee = match &m.args["staff_id"] {
                serde_json::Value::Null => None,
                serde_json::Value::String(s) => Some(s.clone()),
                _ => return Err(ApiError::validation("`staff_id` is a staff id or null.")),
            };
            let req = protocol::UpdateConversation { assignee_staff_id: Some(assignee), ..Default::default() };
            let c = crate::conversations::apply_update(state, auth, conversation()?, req).await?;
            Ok(Some(serde_json::json!({"assignee_staff_id": c.assignee_staff_id})))
        }
        "update_customer" => {
            let mut fields = m.args.clone();
            let id = text_arg(&m.args, "customer_id")?.to_owned();
            if let Some(obj) = fields.as_object_mut() {
                obj.remove("customer_id");
            }
            let req: protocol::UpdateCustomer = serde_json::from_value(fields).map_err(|e| ApiError::validation(e.to_string()))?;
            crate::customers::apply_update(state, auth, &id, req).await?;
            Ok(None)
        }
        "mark_read" => {
            let req = protocol::UpdateConversation { mark_read: Some(true), ..Default::default() };
            crate::conversations::apply_update(state, auth, conversation()?, req).await?;
            Ok(None)
        }
        "set_status" => {
            let status = protocol::ConversationStatus::parse(text_arg(&m.args, "status")?)
                .ok_or_else(|| ApiError::validation("`status` is `open` or `resolved`."))?;
            let req = protocol::UpdateConversation { status: Some(status), ..Default::default() };
            crate::conversations::apply_update(state, auth, conversation()?, req).await?;
            Ok(None)
        }
        "add_note" => {
            let note = crate::conversations::add_note(state, auth, conversation()?, Some(text_arg(&m.args, "note_id")?.to_owned()), text_arg(&m.args, "body")?).await?;
            Ok(Some(serde_json::json!({"note_id": note.id})))
        }
        "create_booking" => {
            auth.require(crate::accounts::Permission::HandleConversations)?;
            let tz = {
                let name: String = sqlx::query_scalar("SELECT timezone FROM businesses WHERE id = $1").bind(&auth.business_id).fetch_one(state.db.reader()).await?;
                jiff::tz::TimeZone::get(&name).map_err(ApiError::internal)?
            };
            let new = crate::bookings::NewBooking {
                id: Some(text_arg(&m.args, "booking_id")?.to_owned()),
                customer_id: text_arg(&m.args, "customer_id")?.to_owned(),
                service_id: text_arg(&m.args, "service_id")?.to_owned(),
                staff_id: m.args["staff_id"].as_str().map(str::to_owned),
                start: crate::bookings::parse_start(text_arg(&m.args, "start")?, &tz)?,
                notes: m.args["notes"].as_str().unwrap_or("").to_owned(),
                source: protocol::BookingSource::Staff,
                status: protocol::BookingStatus::Confirmed,
                created_by_staff_id: Some(auth.staff_id.clone()),
            };
            let booking = crate::bookings::create(&state.db, &auth.business_id, new).await?;
            Ok(Some(serde_json::json!({"booking_id": booking.id, "version": booking.version})))
        }
        "reschedule_booking" | "cancel_booking" => {
            auth.require(crate::accounts::Permission::HandleConversations)?;
            let id = text_arg(&m.args, "booking_id")?;
            let expected_version = m.args["expected_version"].as_i64().ok_or_else(|| ApiError::validation("`expected_version` is required."))?;
            let change = if m.name == "cancel_booking" {
                crate::bookings::BookingChange {
                    expected_version,
                    status: Some(protocol::BookingStatus::Cancelled),
                    cancel_reason: m.args["reason"].as_str().map(str::to_owned),
                    ..Default::default()
                }
            } else {
                let name: String = sqlx::query_scalar("SELECT timezone FROM businesses WHERE id = $1").bind(&auth.business_id).fetch_one(state.db.reader()).await?;
                let tz = jiff::tz::TimeZone::get(&name).map_err(ApiError::internal)?;
                crate::bookings::BookingChange {
                    expected_version,
                    start: Some(crate::bookings::parse_start(text_arg(&m.args, "start")?, &tz)?),
                    staff_id: m.args["staff_id"].as_str().map(str::to_owned),
                    ..Default::default()
                }
            };
            let booking = crate::bookings::update(&state.db, &auth.business_id, id, change, Some(&auth.staff_id), protocol::BookingSource::Staff).await?;
            Ok(Some(serde_json::json!({"booking_id": booking.id, "version": booking.version, "status": booking.status})))
        }
        other => Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "unknown_mutation", format!("There is no mutation called `{other}`."))),
    }
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
        let applying = crate::store::Applying { client_id: req.client_id.clone(), mutation_id: m.id, name: m.name.clone() };
        let outcome = match crate::store::APPLYING.scope(applying, apply(&state, &auth, m)).await {
            Ok(details) => MutationOutcome { id: m.id, ok: true, code: None, message: None, details },
            Err(ApiError::Client { code, message, details, .. }) => {
                MutationOutcome { id: m.id, ok: false, code: Some(code.to_owned()), message: Some(message), details }
            }
            Err(ApiError::RateLimited { .. }) => MutationOutcome { id: m.id, ok: false, code: Some("rate_limited".into()), message: None, details: None },
            // Our fault: nothing was applied (or, if a commit got through, it marked the
            // mutation applied); the console retries the batch from here.
            Err(e) => return Err(e),
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
            .bind(&m.name)
            .bind(serde_json::to_string(&outcome).map_err(ApiError::internal)?)
            .bind(now_ms())
            .execute(state.db.writer())
            .await?;
        last = m.id;
        outcomes.push(outcome);
    }
    Ok(axum::Json(PushResponse { outcomes, expected_id: None }))
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
