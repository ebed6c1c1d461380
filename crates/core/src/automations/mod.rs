//! After the booking: what Switchboard sends customers by itself — confirmations when a booking is
//! made, moved or cancelled, reminders before it, answers to their replies (C/R/X), a text-back
//! after a missed call, follow-ups when someone asked about booking and went quiet.
//!
//! Every automated message is a row of `automation_runs`, planned in the same transaction as what
//! caused it (the booking change, the call, the customer's message) under a unique key per
//! business — `confirmation:{booking}:{version}`, `reminder:{booking}:{rule}`, ... — so it exists
//! once whoever plans it, however often. The [`crate::workers::Job::Automations`] step sends what
//! is due by the core's clock: in the business's transaction it checks the row is still planned,
//! checks the customer (opted out on any channel: nothing is sent), picks the channel they use,
//! fills in the business's text (or its approved WhatsApp template when WhatsApp's 24-hour window
//! is closed) and stores the message with its outbox entry — the one way messages leave. The run
//! then says `sent`, or `skipped` with the reason in plain words; follow-ups say what stopped them.

pub mod plan;
pub mod replies;
pub mod texts;

use jiff::tz::TimeZone;
use jiff::Timestamp;
use protocol::{
    AutomationKind, AutomationPreview, AutomationRun, AutomationSettings, AutomationStatus, Booking, BookingConfirmation, BookingStatus,
    Channel, Customer, MessageKind, PreviewAutomation, TemplateMapping, UpdateAutomationSettings,
};
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::accounts::{Actor, Permission};
use crate::channels::Outgoing;
use crate::error::Error;
use crate::store::columns::read_row;
use crate::store::{bind_all, Bind, BusinessTx, Filter, Key, Order, PageQuery, Paging, StoreError};
use protocol::Page;
use crate::workers::Job;
use crate::Core;

use texts::Vars;

/// A caller gets at most one text-back in this long.
pub const TEXT_BACK_EVERY_MS: i64 = 12 * 3_600_000;
/// WhatsApp's customer-service window.
const WINDOW_MS: i64 = 24 * 3_600_000;
/// Due runs handled per step.
const BATCH: i64 = 256;

// ---------------------------------------------------------------------------------------------
// Settings

pub async fn load_settings(conn: &mut AnyConnection, business_id: &str) -> Result<AutomationSettings, Error> {
    let text: Option<String> = sqlx::query_scalar("SELECT automation_settings FROM businesses WHERE id = $1").bind(business_id).fetch_optional(conn).await?;
    let text = text.ok_or(Error::NotFound("business"))?;
    Ok(crate::store::json_column(&text, "businesses.automation_settings")?)
}

/// [`load_settings`] and the name of the business's zone, in one statement (a booking's change
/// needs both when it plans reminders).
async fn load_settings_and_zone(conn: &mut AnyConnection, business_id: &str) -> Result<(AutomationSettings, String), Error> {
    let row: Option<(String, String)> =
        sqlx::query_as("SELECT automation_settings, timezone FROM businesses WHERE id = $1").bind(business_id).fetch_optional(conn).await?;
    let (text, zone) = row.ok_or(Error::NotFound("business"))?;
    Ok((crate::store::json_column(&text, "businesses.automation_settings")?, zone))
}

/// The business's automations.
pub async fn get_settings(core: &Core, actor: &Actor) -> Result<AutomationSettings, Error> {
    let mut conn = core.db.reader().acquire().await?;
    load_settings(&mut conn, &actor.business_id).await
}

fn check_settings(s: &AutomationSettings) -> Result<(), Error> {
    if s.reminder_rules.len() > 5 {
        return Err(Error::invalid("At most 5 reminder rules."));
    }
    let mut ids = std::collections::BTreeSet::new();
    for r in &s.reminder_rules {
        let id_ok = !r.id.is_empty() && r.id.len() <= 32 && r.id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !id_ok || !ids.insert(r.id.clone()) {
            return Err(Error::invalid("Each reminder rule needs its own `id` (up to 32 letters, digits, `_` or `-`)."));
        }
        if r.minutes_before == 0 || r.minutes_before > 30 * 1440 {
            return Err(Error::invalid("`minutes_before` must be between 1 and 43200 (30 days)."));
        }
    }
    if let Some(q) = &s.quiet_hours {
        if plan::parse_hhmm(&q.start).is_none() || plan::parse_hhmm(&q.end).is_none() {
            return Err(Error::invalid("Quiet hours are local times `HH:MM`."));
        }
    }
    if s.follow_up_steps.len() > 5 || s.follow_up_steps.iter().any(|f| f.delay_minutes == 0 || f.delay_minutes > 30 * 1440) {
        return Err(Error::invalid("At most 5 follow-up steps, each 1 to 43200 minutes after the last."));
    }
    let t = &s.texts;
    for (name, text) in [
        ("confirmation_created", &t.confirmation_created),
        ("confirmation_moved", &t.confirmation_moved),
        ("confirmation_cancelled", &t.confirmation_cancelled),
        ("reminder", &t.reminder),
        ("reply_confirmed", &t.reply_confirmed),
        ("reply_cancelled_already", &t.reply_cancelled_already),
        ("text_back", &t.text_back),
        ("follow_up", &t.follow_up),
        ("no_show", &t.no_show),
    ] {
        if text.trim().is_empty() || text.chars().count() > 1000 {
            return Err(Error::invalid(format!("`texts.{name}` must be 1 to 1000 characters.")));
        }
        texts::check(text).map_err(|v| Error::invalid(format!("`texts.{name}` uses an {v}.")))?;
    }
    let w = &s.whatsapp_templates;
    for m in [&w.confirmation, &w.reminder, &w.text_back, &w.follow_up, &w.no_show].into_iter().flatten() {
        if m.template_name.is_empty() || !m.template_name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
            return Err(Error::invalid("Template names are lower-case letters, digits and `_`, exactly as approved by Meta."));
        }
        if m.language.trim().is_empty() || m.variables.len() > 10 {
            return Err(Error::invalid("A template mapping needs its language and at most 10 variables."));
        }
        let distinct: std::collections::BTreeSet<_> = m.quick_replies.iter().map(|q| q.as_str()).collect();
        if distinct.len() != m.quick_replies.len() {
            return Err(Error::invalid("Each quick-reply button does something else (confirm, reschedule, cancel)."));
        }
    }
    Ok(())
}

/// `$to.field = value` for each listed field the update gives (`Some(value)`).
macro_rules! given {
    ($to:ident, $update:ident, $($field:ident),+ $(,)?) => {
        $(if let Some(value) = $update.$field {
            $to.$field = value;
        })+
    };
}

/// Changes the business's automations (owners and admins).
pub async fn update_settings(core: &Core, actor: &Actor, req: UpdateAutomationSettings) -> Result<AutomationSettings, Error> {
    actor.require(Permission::ManageBusiness)?;
    let mut tx = core.db.begin_business(&actor.business_id).await?;
    let mut s = load_settings(tx.conn(), &actor.business_id).await?;
    // What reminders are planned by; when it changes, the planned ones are planned again.
    let planned_by = |s: &AutomationSettings| json!([s.reminders, s.reminder_rules, s.quiet_hours]);
    let before = planned_by(&s);
    // Fields left out of the request stay as they are.
    given!(s, req, confirmations, reminders, reminder_rules, quiet_hours, missed_call_text_back,
        follow_ups, follow_up_steps, no_show_rebooking, texts, whatsapp_templates);
    check_settings(&s)?;
    sqlx::query("UPDATE businesses SET automation_settings = $1, updated_at = $2 WHERE id = $3")
        .bind(serde_json::to_string(&s).map_err(Error::internal)?)
        .bind(tx.now_ms())
        .bind(&actor.business_id)
        .execute(tx.conn())
        .await?;
    if planned_by(&s) != before {
        replan_reminders(&mut tx).await?;
    }
    tx.audit(Some(&actor.staff_id), "automations.updated", None, json!({})).await?;
    tx.commit_even_if_unchanged().await?;
    Ok(s)
}

/// A text as it would be sent, with a real booking's details or example ones.
pub async fn preview(core: &Core, actor: &Actor, req: PreviewAutomation) -> Result<AutomationPreview, Error> {
    if req.text.chars().count() > 1000 {
        return Err(Error::invalid("`text` must be at most 1000 characters."));
    }
    texts::check(&req.text).map_err(|texts::UnknownVariable(v)| Error::invalid(format!("Unknown variable `{{{v}}}`.")))?;
    let mut conn = core.db.reader().acquire().await?;
    let vars = match &req.booking_id {
        Some(id) => {
            let booking = crate::scheduling::bookings::load(&mut conn, &actor.business_id, id.as_str()).await?.ok_or(Error::NotFound("booking"))?;
            texts::for_booking(&mut conn, &actor.business_id, &booking).await?
        }
        None => {
            let business = crate::accounts::business::load(&mut conn, &actor.business_id).await?;
            Vars::example(&business.name)
        }
    };
    Ok(AutomationPreview { body: vars.fill(&req.text) })
}

// ---------------------------------------------------------------------------------------------
// Runs

const RUN_COLUMNS: &str = "id, business_id, kind, rule, booking_id, customer_id, conversation_id, due_at, status, reason, message_id, created_at, updated_at";

fn run_from_row(row: &AnyRow) -> Result<AutomationRun, StoreError> {
    Ok(read_row!(row => AutomationRun {
        id, business_id, kind, rule, booking_id, customer_id, conversation_id, due_at, status, reason, message_id,
        created_at, updated_at,
    }))
}

/// What is planned, sent or not sent for a booking (`by = "booking_id"`) or a conversation.
async fn runs_by(core: &Core, business_id: &str, by: &str, id: &str, page: PageQuery) -> Result<Page<AutomationRun>, Error> {
    let paging = Paging::new(page.cursor.as_deref(), page.limit)?;
    let mut f = Filter::default();
    f.and("business_id = ?", [Bind::Text(business_id.into())]);
    f.and(&format!("{by} = ?"), [Bind::Text(id.into())]);
    paging.keyset(&mut f, "due_at", "id", Order::Asc)?;
    let sql = format!("SELECT {RUN_COLUMNS} FROM automation_runs{}{}", f.where_sql(), paging.order_by("due_at", "id", Order::Asc));
    let rows = bind_all(sqlx::query(&sql), &f.binds).fetch_all(core.db.reader()).await?;
    let runs = rows.iter().map(run_from_row).collect::<Result<Vec<_>, _>>()?;
    Ok(paging.page(runs, |r| (Key::Int(r.due_at.as_millis()), r.id.clone())))
}

/// A booking's confirmations and reminders: planned, sent, or not sent and why.
pub async fn booking_runs(core: &Core, actor: &Actor, booking_id: &str, page: PageQuery) -> Result<Page<AutomationRun>, Error> {
    let mut conn = core.db.reader().acquire().await?;
    crate::scheduling::bookings::load(&mut conn, &actor.business_id, booking_id).await?.ok_or(Error::NotFound("booking"))?;
    drop(conn);
    runs_by(core, &actor.business_id, "booking_id", booking_id, page).await
}

/// A conversation's automated messages (follow-ups and what stopped them, text-backs, replies,
/// and confirmations and reminders sent into it), and the customer's runs that are in no
/// conversation yet (reminders still planned, messages skipped before a channel was picked), so
/// the conversation shows what is coming for this customer as well as what went.
pub async fn conversation_runs(core: &Core, actor: &Actor, conversation_id: &str, page: PageQuery) -> Result<Page<AutomationRun>, Error> {
    let mut conn = core.db.reader().acquire().await?;
    let conversation = crate::conversations::load(&mut conn, &actor.business_id, conversation_id).await?.ok_or(Error::NotFound("conversation"))?;
    drop(conn);
    let paging = Paging::new(page.cursor.as_deref(), page.limit)?;
    let mut f = Filter::default();
    f.and("business_id = ?", [Bind::Text(actor.business_id.clone())]);
    f.and(
        "(conversation_id = ? OR (conversation_id IS NULL AND customer_id = ?))",
        [Bind::Text(conversation_id.into()), Bind::Text(conversation.customer_id.as_str().into())],
    );
    paging.keyset(&mut f, "due_at", "id", Order::Asc)?;
    let sql = format!("SELECT {RUN_COLUMNS} FROM automation_runs{}{}", f.where_sql(), paging.order_by("due_at", "id", Order::Asc));
    let rows = bind_all(sqlx::query(&sql), &f.binds).fetch_all(core.db.reader()).await?;
    let runs = rows.iter().map(run_from_row).collect::<Result<Vec<_>, _>>()?;
    Ok(paging.page(runs, |r| (Key::Int(r.due_at.as_millis()), r.id.clone())))
}

/// Bookings starting within the next two hours that the customer has not confirmed.
pub async fn unconfirmed_soon(core: &Core, actor: &Actor, page: PageQuery) -> Result<Page<Booking>, Error> {
    use crate::store::Record;
    let paging = Paging::new(page.cursor.as_deref(), page.limit)?;
    let now = core.db.now_ms();
    let mut f = Filter::default();
    f.and("b.business_id = ?", [Bind::Text(actor.business_id.clone())]);
    f.and("b.confirmation = 'unconfirmed' AND b.status IN ('pending', 'confirmed')", []);
    f.and("b.start_at > ? AND b.start_at <= ?", [Bind::Int(now), Bind::Int(now + 2 * 3_600_000)]);
    paging.keyset(&mut f, "b.start_at", "b.id", Order::Asc)?;
    let sql = format!("SELECT {} FROM {}{}{}", Booking::COLUMNS, Booking::TABLE, f.where_sql(), paging.order_by("b.start_at", "b.id", Order::Asc));
    let rows = bind_all(sqlx::query(&sql), &f.binds).fetch_all(core.db.reader()).await?;
    let bookings = rows.iter().map(Booking::from_row).collect::<Result<Vec<_>, _>>()?;
    Ok(paging.page(bookings, |b| (Key::Int(b.start.as_millis()), b.id.to_string())))
}

/// A run to plan.
pub(crate) struct NewRun<'a> {
    pub kind: AutomationKind,
    pub rule: String,
    pub key: String,
    pub booking_id: Option<&'a str>,
    pub customer_id: &'a str,
    pub conversation_id: Option<&'a str>,
    pub due_at: i64,
    pub status: AutomationStatus,
    pub reason: Option<String>,
}

impl<'a> NewRun<'a> {
    /// A run about a booking, planned for `due_at`.
    fn for_booking(kind: AutomationKind, rule: String, key: String, booking: &'a Booking, due_at: i64) -> Self {
        NewRun {
            kind,
            rule,
            key,
            booking_id: Some(booking.id.as_str()),
            customer_id: booking.customer_id.as_str(),
            conversation_id: None,
            due_at,
            status: AutomationStatus::Planned,
            reason: None,
        }
    }
}

/// Plans several runs, each as [`plan_run`] would (with its own `replan`), in one statement when
/// their keys differ (a booking's confirmation and its reminders); otherwise one by one, in order.
pub(crate) async fn plan_runs(tx: &mut BusinessTx, runs: Vec<(NewRun<'_>, bool)>) -> Result<(), Error> {
    let keys: std::collections::HashSet<&str> = runs.iter().map(|(r, _)| r.key.as_str()).collect();
    if runs.len() < 2 || keys.len() < runs.len() {
        for (run, replan) in runs {
            plan_run(tx, run, replan).await?;
        }
        return Ok(());
    }
    let now = tx.now_ms();
    let business_id = tx.business_id().to_owned();
    // $1 the business, $2 now; then ten values a run, its key the fourth of them.
    const WIDTH: usize = 10;
    let values: Vec<String> = (0..runs.len())
        .map(|i| {
            let p = 3 + WIDTH * i;
            format!("(${p}, $1, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, $2, $2)", p + 1, p + 2, p + 3, p + 4, p + 5, p + 6, p + 7, p + 8, p + 9)
        })
        .collect();
    // The runs to re-plan are told apart by their keys (distinct, so no row is touched twice).
    let replanned: Vec<String> = runs.iter().enumerate().filter(|(_, (_, replan))| *replan).map(|(i, _)| format!("${}", 3 + WIDTH * i + 3)).collect();
    let conflict = if replanned.is_empty() {
        "ON CONFLICT (business_id, dedupe_key) DO NOTHING".to_owned()
    } else {
        format!(
            "ON CONFLICT (business_id, dedupe_key) DO UPDATE SET due_at = excluded.due_at, status = excluded.status, reason = excluded.reason, \
             updated_at = excluded.updated_at WHERE automation_runs.status IN ('planned', 'skipped', 'dropped') AND excluded.dedupe_key IN ({})",
            replanned.join(", ")
        )
    };
    let sql = format!(
        "INSERT INTO automation_runs (id, business_id, kind, rule, dedupe_key, booking_id, customer_id, conversation_id, due_at, status, reason, created_at, updated_at) \
         VALUES {} {conflict}",
        values.join(", ")
    );
    let mut query = sqlx::query(&sql).bind(business_id).bind(now);
    let mut planned = false;
    for (run, _) in runs {
        planned |= run.status == AutomationStatus::Planned;
        query = query
            .bind(tx.new_id::<String>())
            .bind(run.kind.as_str())
            .bind(run.rule)
            .bind(run.key)
            .bind(run.booking_id)
            .bind(run.customer_id)
            .bind(run.conversation_id)
            .bind(run.due_at)
            .bind(run.status.as_str())
            .bind(run.reason);
    }
    query.execute(tx.conn()).await?;
    if planned {
        tx.wake(Job::Automations);
    }
    Ok(())
}

/// Plans a run unless its key exists. `replan`: a planned or not-yet-sent run with this key
/// takes the new time and status (a moved booking's reminder); a sent one stays sent.
pub(crate) async fn plan_run(tx: &mut BusinessTx, run: NewRun<'_>, replan: bool) -> Result<(), Error> {
    let now = tx.now_ms();
    let business_id = tx.business_id().to_owned();
    let conflict = if replan {
        "ON CONFLICT (business_id, dedupe_key) DO UPDATE SET due_at = excluded.due_at, status = excluded.status, reason = excluded.reason, \
         updated_at = excluded.updated_at WHERE automation_runs.status IN ('planned', 'skipped', 'dropped')"
    } else {
        "ON CONFLICT (business_id, dedupe_key) DO NOTHING"
    };
    sqlx::query(&format!(
        "INSERT INTO automation_runs (id, business_id, kind, rule, dedupe_key, booking_id, customer_id, conversation_id, due_at, status, reason, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) {conflict}"
    ))
    .bind(tx.new_id::<String>())
    .bind(&business_id)
    .bind(run.kind.as_str())
    .bind(&run.rule)
    .bind(&run.key)
    .bind(run.booking_id)
    .bind(run.customer_id)
    .bind(run.conversation_id)
    .bind(run.due_at)
    .bind(run.status.as_str())
    .bind(run.reason)
    .bind(now)
    .execute(tx.conn())
    .await?;
    if run.status == AutomationStatus::Planned {
        tx.wake(Job::Automations);
    }
    Ok(())
}

/// Ends planned runs that match `filter` (SQL on `automation_runs`, `$2` bound to `id`).
async fn end_planned(tx: &mut BusinessTx, filter: &str, id: &str, status: AutomationStatus, reason: &str) -> Result<u64, Error> {
    let now = tx.now_ms();
    let business_id = tx.business_id().to_owned();
    Ok(sqlx::query(&format!(
        "UPDATE automation_runs SET status = $3, reason = $4, updated_at = $5 WHERE business_id = $1 AND {filter} AND status = 'planned'"
    ))
    .bind(business_id)
    .bind(id)
    .bind(status.as_str())
    .bind(reason)
    .bind(now)
    .execute(tx.conn())
    .await?
    .rows_affected())
}

// ---------------------------------------------------------------------------------------------
// Bookings

/// A booking was made (`before` is `None`) or changed: in the same transaction, the confirmation
/// of the change is planned (once per change: its key is the booking's version), its reminders
/// are planned or re-planned, or dropped if it no longer holds its time, and a follow-up of the
/// customer stops (they booked).
///
/// The runs it plans are written in one statement ([`plan_runs`]).
pub async fn booking_changed(tx: &mut BusinessTx, before: Option<&Booking>, after: &Booking) -> Result<(), Error> {
    let business_id = tx.business_id().to_owned();
    let (settings, zone) = load_settings_and_zone(tx.conn(), &business_id).await?;
    let now = tx.now_ms();
    let start = after.start.as_millis();
    let moved = before.is_some_and(|b| b.start != after.start || b.staff_id != after.staff_id);
    let change = match before {
        None if after.status.holds_time() => Some("created"),
        Some(b) if b.status.holds_time() && after.status == BookingStatus::Cancelled => Some("cancelled"),
        Some(_) if moved && after.status.holds_time() => Some("moved"),
        _ => None,
    };
    let mut runs = Vec::new();
    if let Some(change) = change {
        if settings.confirmations && start > now {
            let key = format!("confirmation:{}:{}", after.id, after.version);
            let run = NewRun::for_booking(AutomationKind::Confirmation, format!("confirmation:{change}"), key, after, now);
            runs.push((run, false));
        }
    }
    // Marked a no-show (by staff; the lifecycle allows it once the appointment started): one
    // rebooking message, once per booking whatever is marked again later.
    let marked_no_show = after.status == BookingStatus::NoShow && before.is_some_and(|b| b.status != BookingStatus::NoShow);
    if marked_no_show && settings.no_show_rebooking {
        let run = NewRun::for_booking(AutomationKind::NoShow, "no_show".into(), format!("no_show:{}", after.id), after, now);
        runs.push((run, false));
    }
    if after.status.holds_time() && (before.is_none() || moved) {
        runs.extend(reminders(tx, after, &settings, &zone)?);
    }
    plan_runs(tx, runs).await?;
    if after.status.holds_time() {
        if before.is_none() {
            end_planned(tx, "customer_id = $2 AND kind = 'follow_up'", after.customer_id.as_str(), AutomationStatus::Stopped, "booking").await?;
        }
    } else {
        let reason = match after.status {
            BookingStatus::Cancelled => "The booking was cancelled.",
            BookingStatus::Completed => "The booking was completed.",
            _ => "The booking was marked a no-show.",
        };
        end_planned(tx, "booking_id = $2 AND kind = 'reminder'", after.id.as_str(), AutomationStatus::Dropped, reason).await?;
    }
    Ok(())
}

/// The runs that plan (or re-plan, after a move) one reminder per rule for a booking, in the
/// business's zone (`zone`, its name).
fn reminders<'a>(tx: &BusinessTx, booking: &'a Booking, settings: &AutomationSettings, zone: &str) -> Result<Vec<(NewRun<'a>, bool)>, Error> {
    let mut runs = Vec::new();
    if !settings.reminders {
        return Ok(runs);
    }
    let tz = TimeZone::get(zone).map_err(Error::internal)?;
    let now = Timestamp::from_millisecond(tx.now_ms()).map_err(Error::internal)?;
    for rule in &settings.reminder_rules {
        let planned = plan::reminder(now, booking.start.as_jiff(), rule, &settings.reminder_rules, settings.quiet_hours.as_ref(), &tz);
        let (due_at, status, reason) = match planned {
            plan::Plan::At(t) => (t.as_millisecond(), AutomationStatus::Planned, None),
            plan::Plan::Skip(why) => (now.as_millisecond(), AutomationStatus::Skipped, Some(why)),
        };
        let key = format!("reminder:{}:{}", booking.id, rule.id);
        let run = NewRun { status, reason, ..NewRun::for_booking(AutomationKind::Reminder, format!("reminder:{}", rule.id), key, booking, due_at) };
        runs.push((run, true));
    }
    Ok(runs)
}

/// Why a reminder of `rule` (`reminder:{rule id}`) is no longer wanted, if it is not.
fn reminder_withdrawn(settings: &AutomationSettings, rule: &str) -> Option<&'static str> {
    if !settings.reminders {
        Some("Reminders were turned off.")
    } else if !settings.reminder_rules.iter().any(|r| rule == format!("reminder:{}", r.id)) {
        Some("Its reminder rule was removed.")
    } else {
        None
    }
}

/// Re-plans every upcoming booking's reminders after what they are planned by changed: reminders
/// turned on or off, their rules, quiet hours (the automations' settings) or the business's time
/// zone (a whole-day rule keeps its local time, and quiet hours are local). Planned reminders of
/// rules that are gone, or all of them when reminders are off, are dropped with why; reminders
/// already sent stay sent.
pub(crate) async fn replan_reminders(tx: &mut BusinessTx) -> Result<(), Error> {
    let business_id = tx.business_id().to_owned();
    let (settings, zone) = load_settings_and_zone(tx.conn(), &business_id).await?;
    let rules: Vec<String> = sqlx::query_scalar("SELECT DISTINCT rule FROM automation_runs WHERE business_id = $1 AND kind = 'reminder' AND status = 'planned'")
        .bind(&business_id)
        .fetch_all(tx.conn())
        .await?;
    for rule in rules {
        if let Some(why) = reminder_withdrawn(&settings, &rule) {
            end_planned(tx, "kind = 'reminder' AND rule = $2", &rule, AutomationStatus::Dropped, why).await?;
        }
    }
    if !settings.reminders {
        return Ok(());
    }
    let now = tx.now_ms();
    let upcoming = crate::scheduling::bookings::upcoming(tx.conn(), &business_id, now).await?;
    // Their runs have distinct keys: one statement for a hundred bookings at a time.
    for chunk in upcoming.chunks(100) {
        let mut runs = Vec::new();
        for booking in chunk {
            runs.extend(reminders(tx, booking, &settings, &zone)?);
        }
        plan_runs(tx, runs).await?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Missed calls and follow-ups

/// A call nobody answered (`call_key`: the provider's call id): the caller gets one text — at
/// most one per caller per 12 hours — in an SMS (or WhatsApp) conversation the assistant answers.
pub async fn missed_call(tx: &mut BusinessTx, customer_id: &str, call_key: &str) -> Result<(), Error> {
    // The reports count every missed call, whether or not a text-back follows.
    crate::reports::outcomes::missed_call(tx, customer_id, call_key).await?;
    let business_id = tx.business_id().to_owned();
    let settings = load_settings(tx.conn(), &business_id).await?;
    if !settings.missed_call_text_back {
        return Ok(());
    }
    let now = tx.now_ms();
    // The business's transaction is serialised, so this check and the insert cannot interleave
    // with another instance's.
    let recent: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM automation_runs WHERE business_id = $1 AND customer_id = $2 AND kind = 'text_back' AND status IN ('planned', 'sent') AND created_at > $3",
    )
    .bind(&business_id)
    .bind(customer_id)
    .bind(now - TEXT_BACK_EVERY_MS)
    .fetch_one(tx.conn())
    .await?;
    let (status, reason) = if recent > 0 {
        (AutomationStatus::Skipped, Some("The caller already got a text-back in the last 12 hours.".to_owned()))
    } else {
        (AutomationStatus::Planned, None)
    };
    let run = NewRun {
        kind: AutomationKind::TextBack,
        rule: "text_back".into(),
        key: format!("text_back:{call_key}"),
        booking_id: None,
        customer_id,
        conversation_id: None,
        due_at: now,
        status,
        reason,
    };
    plan_run(tx, run, false).await
}

/// Words that say a customer is asking about booking.
pub(crate) fn asks_about_booking(text: &str) -> bool {
    let lower = text.to_lowercase();
    ["book", "appointment", "available", "availability", "free slot", "any slots", "opening", "how much", "price"].iter().any(|w| lower.contains(w))
}

/// Customers wrote messages that ask about nothing booking-related (or with follow-ups off): their
/// planned follow-ups stop, as [`customer_wrote`] stops them, with one statement.
pub(crate) async fn customers_wrote(tx: &mut BusinessTx, customer_ids: &[&str]) -> Result<(), Error> {
    let now = tx.now_ms();
    let business_id = tx.business_id().to_owned();
    let runs = crate::store::json_join(tx.engine(), "r.customer_id", "$5");
    let sql = format!(
        "UPDATE automation_runs SET status = $2, reason = $3, updated_at = $4 WHERE id IN (SELECT r.id FROM {} automation_runs r \
         WHERE {} AND r.kind = 'follow_up' AND r.business_id = $1 AND r.status = 'planned')",
        runs.0, runs.1
    );
    sqlx::query(&sql)
        .bind(&business_id)
        .bind(AutomationStatus::Stopped.as_str())
        .bind("inbound_message")
        .bind(now)
        .bind(crate::store::json_param(customer_ids)?)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// A customer's message: their planned follow-ups stop (they wrote), and if it asks about
/// booking and they have nothing booked, a new follow-up sequence starts from now.
pub async fn customer_wrote(tx: &mut BusinessTx, customer_id: &str, conversation_id: &str, text: &str) -> Result<(), Error> {
    end_planned(tx, "customer_id = $2 AND kind = 'follow_up'", customer_id, AutomationStatus::Stopped, "inbound_message").await?;
    if !asks_about_booking(text) {
        return Ok(());
    }
    let business_id = tx.business_id().to_owned();
    let settings = load_settings(tx.conn(), &business_id).await?;
    if !settings.follow_ups {
        return Ok(());
    }
    let now = tx.now_ms();
    let booked: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM bookings WHERE business_id = $1 AND customer_id = $2 AND status IN ('pending', 'confirmed') AND start_at > $3")
        .bind(&business_id)
        .bind(customer_id)
        .bind(now)
        .fetch_one(tx.conn())
        .await?;
    if booked > 0 {
        return Ok(());
    }
    let message_id = tx.new_id::<String>();
    let mut due = now;
    for (i, step) in settings.follow_up_steps.iter().enumerate() {
        due += i64::from(step.delay_minutes) * 60_000;
        let run = NewRun {
            kind: AutomationKind::FollowUp,
            rule: format!("follow_up:{}", i + 1),
            key: format!("follow_up:{conversation_id}:{}:{message_id}", i + 1),
            booking_id: None,
            customer_id,
            conversation_id: Some(conversation_id),
            due_at: due,
            status: AutomationStatus::Planned,
            reason: None,
        };
        plan_run(tx, run, false).await?;
    }
    Ok(())
}

/// What stops a follow-up that is due: the customer booked, opted out, a person took the
/// conversation over, or it was resolved. (A message from the customer stops it at once.)
async fn follow_up_stopped(tx: &mut BusinessTx, run: &DueRun, customer: &Customer) -> Result<Option<&'static str>, Error> {
    if customer.opted_out_sms || customer.opted_out_whatsapp {
        return Ok(Some("opted_out"));
    }
    let business_id = tx.business_id().to_owned();
    let booked: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM bookings WHERE business_id = $1 AND customer_id = $2 AND created_at >= $3")
        .bind(&business_id)
        .bind(&run.customer_id)
        .bind(run.created_at)
        .fetch_one(tx.conn())
        .await?;
    if booked > 0 {
        return Ok(Some("booking"));
    }
    if let Some(conversation_id) = &run.conversation_id {
        if let Some(c) = crate::conversations::load(tx.conn(), &business_id, conversation_id).await? {
            if c.mode == protocol::ControlMode::Human {
                return Ok(Some("takeover"));
            }
            if c.status == protocol::ConversationStatus::Resolved {
                return Ok(Some("resolved"));
            }
        }
    }
    Ok(None)
}

// ---------------------------------------------------------------------------------------------
// Sending what is due

struct DueRun {
    id: String,
    kind: AutomationKind,
    rule: String,
    booking_id: Option<String>,
    customer_id: String,
    conversation_id: Option<String>,
    created_at: i64,
}

/// Sends the runs that are due now; returns how many it handled.
pub async fn run_due(core: &Core) -> Result<usize, Error> {
    let now = core.db.now_ms();
    // In the order of the due index (`due_at` only): a tie-break on `id` would sort every run due
    // in the same minute on each step (100,000 of them for a busy minute).
    let rows = sqlx::query("SELECT id, business_id FROM automation_runs WHERE status = 'planned' AND due_at <= $1 ORDER BY due_at LIMIT $2")
        .bind(now)
        .bind(BATCH)
        .fetch_all(core.db.reader())
        .await?;
    let mut by_business: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for row in &rows {
        by_business.entry(row.try_get("business_id")?).or_default().push(row.try_get("id")?);
    }
    let mut done = 0;
    for (business_id, ids) in by_business {
        let mut tx = core.db.begin_business(&business_id).await?;
        // A step's change-log and audit entries, outbox rows and run outcomes are written with a
        // few multi-row statements at its end rather than several statements per run.
        tx.defer_changes();
        tx.defer_audit();
        let mut batch = Batch::load(&mut tx, &ids).await?;
        for id in &ids {
            done += usize::from(send_one(&mut tx, id, &mut batch).await?);
        }
        batch.write(&mut tx).await?;
        // The reports' record of what this step sent (reminders, text-backs), set-based: after
        // the runs' outcomes are written, since it reads which of them are now sent.
        crate::reports::outcomes::automations_sent(&mut tx, &ids).await?;
        tx.commit_even_if_unchanged().await?;
    }
    Ok(done)
}

/// A run's outcome, written at the end of the step ([`Batch::write`]).
struct Finished {
    id: String,
    status: AutomationStatus,
    reason: Option<String>,
    message_id: Option<String>,
    conversation_id: Option<String>,
}

/// A customer's conversation as [`reach`] picks among them: the one last written in by the
/// customer, then the one with the latest activity.
struct Reachable {
    id: String,
    channel: Channel,
    last_inbound_at: i64,
    last_activity_at: i64,
}

/// What the due runs of one business read, read once per step inside its transaction (which
/// holds the business's lock, and sending a run changes none of it): a few queries for the
/// batch instead of several per run.
struct Batch {
    /// The runs of the step still planned when it began, by id (taken out as they are handled).
    runs: std::collections::HashMap<String, DueRun>,
    settings: AutomationSettings,
    /// The business's name and time zone.
    place: (String, TimeZone),
    /// The kinds of channel it has connected.
    kinds: Vec<String>,
    /// The runs' customers and bookings, by id.
    customers: std::collections::HashMap<String, Customer>,
    bookings: std::collections::HashMap<String, Booking>,
    /// Names of services and staff members, by table and id, as they are asked for.
    names: std::collections::HashMap<(&'static str, String), Option<String>>,
    /// The customers' conversations (not calls), by customer, in [`reach`]'s order; kept up to
    /// date as the step opens conversations and writes in them.
    conversations: std::collections::HashMap<String, Vec<Reachable>>,
    /// What the step wrote, for [`Batch::write`].
    messages: crate::conversations::MessageBatch,
    outbox: Vec<crate::sending::OutboxRow>,
    finished: Vec<Finished>,
}

impl Batch {
    async fn load(tx: &mut BusinessTx, run_ids: &[String]) -> Result<Batch, Error> {
        use crate::store::Record;
        let business_id = tx.business_id().to_owned();
        let settings = load_settings(tx.conn(), &business_id).await?;
        let place = texts::business(tx.conn(), &business_id).await?;
        let kinds = connected_kinds(tx).await?;
        let list = |n: usize| crate::store::placeholders(2, n);
        // Only runs still planned and still due (inside the business's transaction, so no other
        // instance handles them meanwhile; the ids were picked before it, and a change of the
        // settings or the time zone may have planned one again for later since).
        let sql = format!(
            "SELECT id, kind, rule, booking_id, customer_id, conversation_id, created_at FROM automation_runs \
             WHERE business_id = $1 AND due_at <= ${} AND id IN ({}) AND status = 'planned'",
            run_ids.len() + 2,
            list(run_ids.len())
        );
        let mut query = sqlx::query(&sql).bind(&business_id);
        for id in run_ids {
            query = query.bind(id);
        }
        let rows = query.bind(tx.now_ms()).fetch_all(tx.conn()).await?;
        let mut runs = std::collections::HashMap::new();
        let mut customer_ids = std::collections::BTreeSet::new();
        let mut booking_ids = std::collections::BTreeSet::new();
        for row in &rows {
            let kind: String = row.try_get("kind")?;
            let run = DueRun {
                id: row.try_get("id")?,
                kind: AutomationKind::parse(&kind).ok_or_else(|| Error::internal(StoreError::Corrupt(kind.clone())))?,
                rule: row.try_get("rule")?,
                booking_id: row.try_get("booking_id")?,
                customer_id: row.try_get("customer_id")?,
                conversation_id: row.try_get("conversation_id")?,
                created_at: row.try_get("created_at")?,
            };
            customer_ids.insert(run.customer_id.clone());
            if let Some(id) = &run.booking_id {
                booking_ids.insert(id.clone());
            }
            runs.insert(run.id.clone(), run);
        }
        let customer_ids: Vec<&str> = customer_ids.iter().map(String::as_str).collect();
        let mut conversations: std::collections::HashMap<String, Vec<Reachable>> = Default::default();
        if !customer_ids.is_empty() {
            let sql = format!(
                "SELECT id, customer_id, channel, last_inbound_at, last_activity_at FROM conversations \
                 WHERE business_id = $1 AND customer_id IN ({}) AND channel <> 'voice'",
                list(customer_ids.len())
            );
            let mut query = sqlx::query(&sql).bind(&business_id);
            for id in &customer_ids {
                query = query.bind(*id);
            }
            for row in query.fetch_all(tx.conn()).await? {
                let channel: String = row.try_get("channel")?;
                let Some(channel) = Channel::parse(&channel) else { continue };
                conversations.entry(row.try_get("customer_id")?).or_default().push(Reachable {
                    id: row.try_get("id")?,
                    channel,
                    last_inbound_at: row.try_get::<Option<i64>, _>("last_inbound_at")?.unwrap_or(0),
                    last_activity_at: row.try_get("last_activity_at")?,
                });
            }
            for list in conversations.values_mut() {
                list.sort_by_key(|c| std::cmp::Reverse((c.last_inbound_at, c.last_activity_at)));
            }
        }
        let customers = crate::customers::load_many(tx.conn(), &business_id, &customer_ids).await?.into_iter().map(|c| (c.id.to_string(), c)).collect();
        let mut bookings = std::collections::HashMap::new();
        if !booking_ids.is_empty() {
            let sql = format!("SELECT {} FROM {} WHERE b.business_id = $1 AND b.id IN ({})", Booking::COLUMNS, Booking::TABLE, list(booking_ids.len()));
            let mut query = sqlx::query(&sql).bind(&business_id);
            for id in &booking_ids {
                query = query.bind(id);
            }
            for row in query.fetch_all(tx.conn()).await? {
                let booking = Booking::from_row(&row)?;
                bookings.insert(booking.id.to_string(), booking);
            }
        }
        // The bookings' service and staff names, two queries for the lot.
        let mut names = std::collections::HashMap::new();
        let services: std::collections::BTreeSet<String> = bookings.values().map(|b: &Booking| b.service_id.to_string()).collect();
        let staff: std::collections::BTreeSet<String> = bookings.values().map(|b: &Booking| b.staff_id.to_string()).collect();
        for (table, ids) in [("services", services), ("staff", staff)] {
            if ids.is_empty() {
                continue;
            }
            let sql = format!("SELECT id, name FROM {table} WHERE business_id = $1 AND id IN ({})", list(ids.len()));
            let mut query = sqlx::query(&sql).bind(&business_id);
            for id in &ids {
                query = query.bind(id);
            }
            let found: std::collections::HashMap<String, String> =
                query.fetch_all(tx.conn()).await?.iter().map(|r| Ok((r.try_get("id")?, r.try_get("name")?))).collect::<Result<_, sqlx::Error>>()?;
            for id in ids {
                let name = found.get(&id).cloned();
                names.insert((table, id), name);
            }
        }
        Ok(Batch {
            runs,
            settings,
            place,
            kinds,
            customers,
            bookings,
            names,
            conversations,
            messages: Default::default(),
            outbox: Vec::new(),
            finished: Vec::new(),
        })
    }

    /// A conversation of `customer_id` was written in now (perhaps opened just now).
    fn wrote_in(&mut self, customer_id: &str, id: &str, channel: Channel, now: i64) {
        let list = self.conversations.entry(customer_id.to_owned()).or_default();
        match list.iter_mut().find(|c| c.id == id) {
            Some(c) => c.last_activity_at = now,
            None => list.push(Reachable { id: id.to_owned(), channel, last_inbound_at: 0, last_activity_at: now }),
        }
        list.sort_by_key(|c| std::cmp::Reverse((c.last_inbound_at, c.last_activity_at)));
    }

    /// Writes what the step did: its messages (and their conversations' activity), their outbox
    /// rows, then the runs' outcomes, with multi-row statements.
    async fn write(&mut self, tx: &mut BusinessTx) -> Result<(), Error> {
        self.messages.write(tx).await?;
        crate::sending::insert_outbox(tx, &std::mem::take(&mut self.outbox)).await?;
        let now = tx.now_ms();
        for chunk in std::mem::take(&mut self.finished).chunks(crate::store::rows_per_statement(5)) {
            let values: Vec<String> = (0..chunk.len())
                .map(|r| {
                    let p = 5 * r + 2;
                    format!(
                        "(CAST(${p} AS TEXT), CAST(${} AS TEXT), CAST(${} AS TEXT), CAST(${} AS TEXT), CAST(${} AS TEXT))",
                        p + 1,
                        p + 2,
                        p + 3,
                        p + 4
                    )
                })
                .collect();
            let sql = format!(
                "WITH v (id, status, reason, message_id, conversation_id) AS (VALUES {}) \
                 UPDATE automation_runs SET status = v.status, reason = v.reason, message_id = v.message_id, \
                 conversation_id = COALESCE(v.conversation_id, automation_runs.conversation_id), updated_at = $1 \
                 FROM v WHERE automation_runs.id = v.id",
                values.join(", ")
            );
            let mut query = sqlx::query(&sql).bind(now);
            for f in chunk {
                query = query.bind(&f.id).bind(f.status.as_str()).bind(f.reason.as_deref()).bind(f.message_id.as_deref()).bind(f.conversation_id.as_deref());
            }
            query.execute(tx.conn()).await?;
        }
        Ok(())
    }

    /// The name of a service or staff member (`table`).
    async fn name(&mut self, tx: &mut BusinessTx, table: &'static str, id: &str) -> Result<Option<String>, Error> {
        if let Some(name) = self.names.get(&(table, id.to_owned())) {
            return Ok(name.clone());
        }
        let name = texts::name_of(tx.conn(), table, id).await?;
        self.names.insert((table, id.to_owned()), name.clone());
        Ok(name)
    }
}

async fn connected_kinds(tx: &mut BusinessTx) -> Result<Vec<String>, Error> {
    let business_id = tx.business_id().to_owned();
    Ok(sqlx::query_scalar("SELECT kind FROM channels WHERE business_id = $1").bind(&business_id).fetch_all(tx.conn()).await?)
}

/// Handles one due run inside the business's transaction (which serialises it with every other
/// instance's): `false` if it was not planned any more.
async fn send_one(tx: &mut BusinessTx, id: &str, batch: &mut Batch) -> Result<bool, Error> {
    let business_id = tx.business_id().to_owned();
    let Some(run) = batch.runs.remove(id) else { return Ok(false) };
    let customer = match batch.customers.get(&run.customer_id) {
        Some(c) => c.clone(),
        None => crate::customers::load_any(tx.conn(), &business_id, &run.customer_id).await?.ok_or(Error::NotFound("customer"))?,
    };
    let outcome = prepare(tx, &run, &customer, batch).await?;
    match outcome {
        Prepared::Send { text, template, vars, preferred } => {
            match deliver(tx, batch, &customer, &run.rule, preferred.as_deref(), &vars, &text, template.as_ref()).await? {
                Ok((conversation_id, message_id)) => {
                    tx.audit(None, "automation.sent", Some(("message", &message_id)), json!({"rule": run.rule, "run": run.id, "booking_id": run.booking_id}))
                        .await?;
                    batch.finish(run.id, AutomationStatus::Sent, None, Some(message_id), Some(conversation_id));
                }
                Err(why) => {
                    let reason = why.to_string();
                    tx.audit(None, "automation.skipped", None, json!({"rule": run.rule, "run": run.id, "booking_id": run.booking_id, "reason": reason})).await?;
                    batch.finish(run.id, AutomationStatus::Skipped, Some(reason), None, None);
                }
            }
        }
        Prepared::End(status, reason) => {
            // What stops one step of a follow-up stops the steps after it (those in this step
            // too: they are no longer planned).
            if run.kind == AutomationKind::FollowUp && status == AutomationStatus::Stopped {
                end_planned(tx, "customer_id = $2 AND kind = 'follow_up'", &run.customer_id, status, &reason).await?;
                batch.runs.retain(|_, r| !(r.kind == AutomationKind::FollowUp && r.customer_id == run.customer_id));
            }
            batch.finish(run.id, status, Some(reason), None, None);
        }
    }
    Ok(true)
}

enum Prepared {
    Send { text: String, template: Option<TemplateMapping>, vars: Vars, preferred: Option<String> },
    End(AutomationStatus, String),
}

/// What a due run should say, or why it ends unsent.
async fn prepare(tx: &mut BusinessTx, run: &DueRun, customer: &Customer, batch: &mut Batch) -> Result<Prepared, Error> {
    let business_id = tx.business_id().to_owned();
    let now = tx.now_ms();
    if run.kind == AutomationKind::FollowUp {
        if let Some(why) = follow_up_stopped(tx, run, customer).await? {
            return Ok(Prepared::End(AutomationStatus::Stopped, why.into()));
        }
    }
    if customer.opted_out_sms || customer.opted_out_whatsapp {
        return Ok(Prepared::End(AutomationStatus::Skipped, "The customer opted out (STOP); no automated message is sent on any channel.".into()));
    }
    if !crate::customers::takes_answers(customer) {
        return Ok(Prepared::End(AutomationStatus::Skipped, "This sender (a short code or a name) cannot receive messages.".into()));
    }
    let booking = match &run.booking_id {
        Some(id) => match batch.bookings.get(id) {
            Some(b) => Some(b.clone()),
            None => Some(crate::scheduling::bookings::load(tx.conn(), &business_id, id).await?.ok_or(Error::NotFound("booking"))?),
        },
        None => None,
    };
    let vars = match &booking {
        Some(b) => {
            let service = batch.name(tx, "services", b.service_id.as_str()).await?;
            let staff = batch.name(tx, "staff", b.staff_id.as_str()).await?;
            texts::booking_vars(&batch.place, b, Some(customer), service, staff)
        }
        None => texts::of_customer(&batch.place.0, customer),
    };
    let t = &batch.settings.texts;
    let w = &batch.settings.whatsapp_templates;
    let (text, template) = match (run.kind, &booking) {
        (AutomationKind::Confirmation, Some(b)) => {
            let text = match run.rule.as_str() {
                "confirmation:cancelled" => &t.confirmation_cancelled,
                "confirmation:moved" => &t.confirmation_moved,
                _ => &t.confirmation_created,
            };
            if run.rule != "confirmation:cancelled" && !b.status.holds_time() {
                return Ok(Prepared::End(AutomationStatus::Dropped, "The booking was cancelled before its confirmation went out.".into()));
            }
            (text.clone(), w.confirmation.clone())
        }
        (AutomationKind::Reminder, Some(b)) => {
            if !b.status.holds_time() {
                return Ok(Prepared::End(AutomationStatus::Dropped, "The booking no longer holds its time.".into()));
            }
            // The settings as they are now: a reminder planned before they changed is re-planned
            // with the change ([`replan_reminders`]); this is the last word.
            if let Some(why) = reminder_withdrawn(&batch.settings, &run.rule) {
                return Ok(Prepared::End(AutomationStatus::Dropped, why.into()));
            }
            if b.start.as_millis() <= now {
                return Ok(Prepared::End(AutomationStatus::Skipped, "The appointment had already started.".into()));
            }
            (t.reminder.clone(), w.reminder.clone())
        }
        (AutomationKind::Reply, Some(_)) => {
            let text = if run.rule == "reply:cancelled" { &t.reply_cancelled_already } else { &t.reply_confirmed };
            (text.clone(), None)
        }
        (AutomationKind::NoShow, Some(b)) => {
            if b.status != BookingStatus::NoShow {
                return Ok(Prepared::End(AutomationStatus::Dropped, "The booking is no longer marked a no-show.".into()));
            }
            (t.no_show.clone(), w.no_show.clone())
        }
        (AutomationKind::TextBack, _) => (t.text_back.clone(), w.text_back.clone()),
        (AutomationKind::FollowUp, _) => (t.follow_up.clone(), w.follow_up.clone()),
        _ => return Ok(Prepared::End(AutomationStatus::Skipped, "Nothing to send.".into())),
    };
    // A text-back goes where the caller can text back: SMS first.
    let preferred = if run.kind == AutomationKind::TextBack { Some("text_back".to_owned()) } else { run.conversation_id.clone() };
    Ok(Prepared::Send { text, template, vars, preferred })
}

impl Batch {
    /// A run's outcome, written at the end of the step.
    fn finish(&mut self, id: String, status: AutomationStatus, reason: Option<String>, message_id: Option<String>, conversation_id: Option<String>) {
        self.finished.push(Finished { id, status, reason, message_id, conversation_id });
    }
}

/// Why an automated message cannot be sent. Its words become the run's `reason`, which staff
/// read in the booking's history.
#[derive(Debug, thiserror::Error)]
enum Undeliverable {
    #[error("No connected channel reaches this customer (connect Twilio for SMS, or WhatsApp).")]
    NoChannel,
    #[error("WhatsApp's 24-hour window is closed and no approved template is set for {0} messages (Settings → Automations).")]
    WindowClosed(String),
    #[error("The template `{name}` ({language}) is not among the business's approved templates.")]
    UnknownTemplate { name: String, language: String },
}

/// The conversation an automated message goes into: the one the customer uses (last written
/// in) on a connected channel, else a new one — SMS to their number (a caller, or a customer
/// staff booked by phone), else WhatsApp.
async fn reach(tx: &mut BusinessTx, batch: &mut Batch, customer: &Customer, preferred: Option<&str>) -> Result<Result<(String, Channel), Undeliverable>, Error> {
    let business_id = tx.business_id().to_owned();
    let kinds = &batch.kinds;
    let connected = |c: Channel| crate::channels::kind_of(c).is_some_and(|k| kinds.iter().any(|x| x == k));
    if let Some(id) = preferred.filter(|p| *p != "text_back") {
        if let Some(c) = crate::conversations::load(tx.conn(), &business_id, id).await? {
            if connected(c.channel) {
                return Ok(Ok((c.id.to_string(), c.channel)));
            }
        }
    }
    let text_back = preferred == Some("text_back");
    if !text_back {
        let known = batch.conversations.get(customer.id.as_str()).map(Vec::as_slice).unwrap_or_default();
        if let Some(c) = known.iter().find(|c| connected(c.channel)) {
            return Ok(Ok((c.id.clone(), c.channel)));
        }
    }
    let channel = if customer.phone.is_some() && connected(Channel::Sms) {
        Channel::Sms
    } else if (customer.whatsapp_id.is_some() || customer.phone.is_some()) && connected(Channel::Whatsapp) {
        Channel::Whatsapp
    } else {
        return Ok(Err(Undeliverable::NoChannel));
    };
    if let Some(id) = batch.messages.opened_for(customer.id.as_str(), channel) {
        return Ok(Ok((id.to_owned(), channel)));
    }
    let id = if text_back {
        crate::conversations::open_for(tx, customer.id.as_str(), channel).await?.id.to_string()
    } else {
        // The customer has no conversation on this (connected) channel, or it would have been
        // found above: a new one is opened, written with the step's messages.
        batch.messages.open(tx, customer.id.as_str(), channel)
    };
    // The step's later runs for this customer find it (even if this message is not sent).
    batch.wrote_in(customer.id.as_str(), &id, channel, tx.now_ms());
    Ok(Ok((id, channel)))
}

/// Stores the automated message with its outbox entry (written with the step's others, see
/// [`Batch::write`]), or says why it cannot be sent.
#[allow(clippy::too_many_arguments)]
async fn deliver(
    tx: &mut BusinessTx,
    batch: &mut Batch,
    customer: &Customer,
    rule: &str,
    preferred: Option<&str>,
    vars: &Vars,
    text: &str,
    template: Option<&TemplateMapping>,
) -> Result<Result<(String, String), Undeliverable>, Error> {
    let (conversation_id, channel) = match reach(tx, batch, customer, preferred).await? {
        Ok(c) => c,
        Err(reason) => return Ok(Err(reason)),
    };
    let body = vars.fill(text);
    let whatsapp = matches!(channel, Channel::Whatsapp | Channel::TwilioWhatsapp);
    // (Only WhatsApp has the window.)
    let window_open = whatsapp && {
        // (None for a conversation this step opened: it is written with the step's messages.)
        let last: Option<i64> = sqlx::query_scalar("SELECT last_inbound_at FROM conversations WHERE id = $1 AND business_id = $2")
            .bind(conversation_id.as_str())
            .bind(tx.business_id().to_owned())
            .fetch_optional(tx.conn())
            .await?
            .flatten();
        last.is_some_and(|at| tx.now_ms() - at <= WINDOW_MS)
    };
    let (body, kind, outgoing) = if whatsapp && !window_open {
        let Some(mapping) = template else {
            let what = rule.split(':').next().unwrap_or(rule).replace('_', "-");
            return Ok(Err(Undeliverable::WindowClosed(what)));
        };
        let business_id = tx.business_id().to_owned();
        let row = sqlx::query("SELECT body, twilio_content_sid FROM whatsapp_templates WHERE business_id = $1 AND name = $2 AND language = $3")
            .bind(&business_id)
            .bind(&mapping.template_name)
            .bind(&mapping.language)
            .fetch_optional(tx.conn())
            .await?;
        let Some(row) = row else {
            return Ok(Err(Undeliverable::UnknownTemplate { name: mapping.template_name.clone(), language: mapping.language.clone() }));
        };
        let variables: Vec<String> = mapping.variables.iter().map(|v| vars.get(*v)).collect();
        let mut shown: String = row.try_get("body")?;
        for (i, v) in variables.iter().enumerate() {
            shown = shown.replace(&format!("{{{{{}}}}}", i + 1), v);
        }
        let outgoing = Outgoing::Template {
            name: mapping.template_name.clone(),
            language: mapping.language.clone(),
            variables,
            twilio_content_sid: row.try_get("twilio_content_sid")?,
            body: shown.clone(),
            quick_replies: mapping.quick_replies.iter().map(|q| q.payload().to_owned()).collect(),
        };
        (shown, MessageKind::Template, outgoing)
    } else if channel == Channel::Whatsapp && rule.starts_with("reminder:") && body.chars().count() <= 1024 {
        // Inside the window a reminder carries reply buttons: a tap answers as the typed code.
        (body.clone(), MessageKind::Text, Outgoing::Buttons { body, codes: ["C", "R", "X"].map(String::from).to_vec() })
    } else {
        (body.clone(), MessageKind::Text, Outgoing::Text { body })
    };
    let author = crate::sending::Author::Automation(rule.to_owned());
    let message_id =
        crate::sending::store_in_batch(tx, &mut batch.messages, &mut batch.outbox, conversation_id.as_str(), channel, author, body, kind, outgoing).await?;
    batch.wrote_in(customer.id.as_str(), &conversation_id, channel, tx.now_ms());
    Ok(Ok((conversation_id, message_id)))
}

/// Sets a booking's confirmation state (a customer's "C", or staff) through the booking rules.
pub(crate) async fn confirm_booking(tx: &mut BusinessTx, booking: &Booking) -> Result<Booking, Error> {
    let change = crate::scheduling::bookings::BookingChange {
        expected_version: booking.version,
        confirmation: Some(BookingConfirmation::Confirmed),
        ..Default::default()
    };
    crate::scheduling::bookings::update(tx, booking.id.as_str(), change, None, protocol::BookingSource::Assistant).await
}
