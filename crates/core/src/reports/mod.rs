//! The owner's reports: what the assistant and the desk achieved, over a range of the
//! business's local days, beside the previous period of the same length, with the rows behind
//! each figure and CSV exports of them. Owners and admins only.
//!
//! [`outcomes`] is the append-only record the write paths add to; [`metrics`] computes every
//! figure from it (the definitions are `docs/metrics.md`). The summary, the drill-down rows and
//! the CSV files are one computation over the same rows, so a figure and its rows always agree.
//! They read the per-episode and per-booking [`summaries`] kept beside the record (the same
//! computation, done when each outcome is appended); [`summary_from_outcomes`] and
//! [`rows_from_outcomes`] compute from the outcome rows themselves, the reference the tests hold
//! the summaries to.

pub mod metrics;
pub mod outcomes;
pub mod summaries;
pub mod weekly;

use std::collections::HashMap;

use jiff::tz::TimeZone;
use protocol::{Channel, ReportBookingRow, ReportCallRow, ReportConversationRow, ReportFigure, ReportRows, ReportSummary};
use sqlx::Row as _;

use crate::accounts::{Actor, Permission};
use crate::error::Error;
use crate::store::rfc3339;
use crate::Core;
use metrics::{CallsListed, Filters, OpeningHours, Period, Range, Row};

/// The longest range a report covers.
const MAX_DAYS: i64 = 400;

/// The range and filters every report route takes.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    /// First local day (`2026-03-01`), inclusive.
    pub from: String,
    /// Last local day, inclusive.
    pub to: String,
    /// Only this channel (`whatsapp`, `sms`, `twilio_whatsapp`, `voice`).
    pub channel: Option<Channel>,
    /// Only what this person did (conversations they replied in or took over; bookings with them).
    pub staff_id: Option<String>,
    /// Drill-down: which figure's rows.
    pub figure: Option<ReportFigure>,
    /// Drill-down and CSV: the previous period's rows instead.
    pub previous: Option<bool>,
}

struct Business {
    tz: TimeZone,
    timezone: String,
    currency: String,
    hours: OpeningHours,
}

async fn business(core: &Core, business_id: &str) -> Result<Business, Error> {
    let row = sqlx::query("SELECT timezone, currency, opening_hours FROM businesses WHERE id = $1")
        .bind(business_id)
        .fetch_optional(core.db.reader())
        .await?
        .ok_or(Error::NotFound("business"))?;
    let timezone: String = row.try_get("timezone")?;
    let hours: OpeningHours = crate::store::json_column(&row.try_get::<String, _>("opening_hours")?, "opening_hours")?;
    Ok(Business { tz: TimeZone::get(&timezone).map_err(Error::internal)?, timezone, currency: row.try_get("currency")?, hours })
}

fn parse_range(q: &ReportQuery, tz: &TimeZone) -> Result<Range, Error> {
    // The service's calendar (1970–2999), as everywhere: at the far edges of what a date can
    // hold, the day after `to` does not exist.
    let date = crate::scheduling::hours::parse_date;
    let (from, to) = (date(&q.from, "from")?, date(&q.to, "to")?);
    if to < from {
        return Err(Error::invalid("`to` must not be before `from`."));
    }
    let range = Range::new(from, to, tz);
    if range.days() > MAX_DAYS {
        return Err(Error::invalid(format!("A report covers at most {MAX_DAYS} days.")));
    }
    Ok(range)
}

fn filters(q: &ReportQuery) -> Filters {
    Filters { channel: q.channel.map(|c| c.as_str().to_owned()), staff_id: q.staff_id.clone() }
}

/// Where a period's facts are read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// The summaries (what the routes use).
    Summaries,
    /// The outcome rows themselves (the reference).
    Outcomes,
}

/// The outcome rows a period's figures are computed from: every row of the episodes that began
/// in it, and every row of the bookings made in it or with an appointment time in it.
async fn load_rows(core: &Core, business_id: &str, range: Range) -> Result<Vec<Row>, Error> {
    let rows = sqlx::query(&format!(
        "SELECT {} FROM outcomes WHERE business_id = $1 AND ( \
           (episode_at >= $2 AND episode_at < $3) \
           OR booking_id IN (SELECT booking_id FROM outcomes WHERE business_id = $1 AND kind = 'booking_made' AND at >= $2 AND at < $3) \
           OR booking_id IN (SELECT booking_id FROM outcomes WHERE business_id = $1 AND kind IN ('booking_made', 'booking_moved') \
                             AND starts_at >= $2 AND starts_at < $3) \
           OR booking_id IN (SELECT booking_id FROM outcomes WHERE business_id = $1 AND kind = 'reminder_sent' AND at >= $2 AND at < $3))",
        summaries::ROW_COLUMNS
    ))
    .bind(business_id)
    .bind(range.start_ms)
    .bind(range.end_ms)
    .fetch_all(core.db.reader())
    .await?;
    rows.iter().map(summaries::row_of).collect::<Result<_, sqlx::Error>>().map_err(Into::into)
}

async fn names(core: &Core, business_id: &str, table: &str, active_only: bool) -> Result<HashMap<String, String>, Error> {
    let active = if active_only { " AND active = 1" } else { "" };
    let rows = sqlx::query(&format!("SELECT id, name FROM {table} WHERE business_id = $1{active}"))
        .bind(business_id)
        .fetch_all(core.db.reader())
        .await?;
    Ok(rows.iter().map(|r| Ok::<_, sqlx::Error>((r.try_get("id")?, r.try_get("name")?))).collect::<Result<_, _>>()?)
}

/// `GET /v1/reports/summary`: the period's figures, the previous period's, the days, the
/// breakdowns and each person's figures.
pub async fn summary(core: &Core, actor: &Actor, q: ReportQuery) -> Result<ReportSummary, Error> {
    summary_from(core, actor, q, Source::Summaries).await
}

/// [`summary`] computed from the outcome rows themselves, not the summaries: the reference the
/// summaries must equal (slow over long histories; the tests compare the two).
pub async fn summary_from_outcomes(core: &Core, actor: &Actor, q: ReportQuery) -> Result<ReportSummary, Error> {
    summary_from(core, actor, q, Source::Outcomes).await
}

async fn period<'a>(core: &Core, b: &'a Business, business_id: &str, range: Range, f: &Filters, source: Source) -> Result<Period<'a>, Error> {
    // The automations' figures read the outcome rows of their kinds, whatever the source.
    let automations = summaries::load_automations(&core.db, business_id, range).await?;
    let period = match source {
        Source::Summaries => {
            let (episodes, bookings) = summaries::load_for_summary(&core.db, business_id, range, &b.tz).await?;
            Period::from_facts(range, &b.tz, &b.hours, episodes, bookings, f)
        }
        Source::Outcomes => Period::new(range, &b.tz, &b.hours, &load_rows(core, business_id, range).await?, f),
    };
    Ok(period.with_automations(automations, f))
}

async fn summary_from(core: &Core, actor: &Actor, q: ReportQuery, source: Source) -> Result<ReportSummary, Error> {
    actor.require(Permission::ViewReports)?;
    let b = business(core, &actor.business_id).await?;
    let range = parse_range(&q, &b.tz)?;
    let previous = range.previous(&b.tz);
    let f = filters(&q);
    // The two periods and the names are independent reads: on connections of their own, side
    // by side (the figures are the same as one after the other).
    let (current, before, services, staff, active_staff) = tokio::try_join!(
        period(core, &b, &actor.business_id, range, &f, source),
        period(core, &b, &actor.business_id, previous, &f, source),
        names(core, &actor.business_id, "services", false),
        names(core, &actor.business_id, "staff", false),
        names(core, &actor.business_id, "staff", true),
    )?;
    let label = |map: &HashMap<String, String>| {
        let map = map.clone();
        move |k: &str| map.get(k).cloned().unwrap_or_else(|| if k.is_empty() { "none".into() } else { "(removed)".into() })
    };
    let mut people = current.staff(&staff);
    people.retain(|p| active_staff.contains_key(&p.staff_id) || p.replies > 0 || p.bookings > 0);
    if let Some(s) = &q.staff_id {
        people.retain(|p| &p.staff_id == s);
    }
    Ok(ReportSummary {
        definitions_version: metrics::DEFINITIONS_VERSION.into(),
        timezone: b.timezone.clone(),
        currency: b.currency.clone(),
        current: current.figures(),
        previous: before.figures(),
        days: current.days(),
        conversations_by_channel: current.conversations_by_channel(),
        bookings_by_source: current.bookings_by(|b| b.source.clone(), |k| k.to_owned()),
        bookings_by_channel: current.bookings_by(|b| b.channel.clone().unwrap_or_default(), |k| if k.is_empty() { "none".into() } else { k.to_owned() }),
        bookings_by_service: current.bookings_by(|b| b.service_id.clone(), label(&services)),
        bookings_by_staff: current.bookings_by(|b| b.staff_id.clone(), label(&staff)),
        staff: people,
    })
}

/// The figure's rows: exactly the conversation episodes, bookings or calls it counts.
pub async fn rows(core: &Core, actor: &Actor, q: ReportQuery) -> Result<ReportRows, Error> {
    rows_from(core, actor, q, Source::Summaries).await
}

/// [`rows`] computed from the outcome rows themselves (the reference, like
/// [`summary_from_outcomes`]).
pub async fn rows_from_outcomes(core: &Core, actor: &Actor, q: ReportQuery) -> Result<ReportRows, Error> {
    rows_from(core, actor, q, Source::Outcomes).await
}

async fn rows_from(core: &Core, actor: &Actor, q: ReportQuery, source: Source) -> Result<ReportRows, Error> {
    actor.require(Permission::ViewReports)?;
    let figure = q.figure.ok_or_else(|| Error::invalid("`figure` is required."))?;
    let Listed { conversations, bookings, calls } = rows_of(core, actor, &q, Some(figure), Want::Figure, source).await?;
    Ok(ReportRows { figure, conversations, bookings, calls })
}

/// Which rows a listing needs: what the figure counts, or every conversation episode, or every
/// booking, or the calls a call figure counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    Figure,
    Conversations,
    Bookings,
    Calls,
}

/// The rows a listing found.
struct Listed {
    conversations: Vec<ReportConversationRow>,
    bookings: Vec<ReportBookingRow>,
    calls: Vec<ReportCallRow>,
}

/// Runs `sql` — `$1` the business, `{in}` standing for the list of `values` — a statement's
/// worth of values at a time ([`crate::store::rows_per_statement`]), and gives back every row.
async fn rows_in(core: &Core, sql: &str, business_id: &str, values: &[String]) -> Result<Vec<sqlx::any::AnyRow>, Error> {
    let mut out = Vec::new();
    for chunk in values.chunks(crate::store::rows_per_statement(1)) {
        let sql = sql.replace("{in}", &crate::store::placeholders(2, chunk.len()));
        let mut q = sqlx::query(&sql).bind(business_id);
        for v in chunk {
            q = q.bind(v);
        }
        out.extend(q.fetch_all(core.db.reader()).await?);
    }
    Ok(out)
}

/// `figure: None`: every conversation episode and every booking of the period (made in it, or
/// with its appointment in it).
async fn rows_of(
    core: &Core,
    actor: &Actor,
    q: &ReportQuery,
    figure: Option<ReportFigure>,
    want: Want,
    source: Source,
) -> Result<Listed, Error> {
    let b = business(core, &actor.business_id).await?;
    let mut range = parse_range(q, &b.tz)?;
    if q.previous == Some(true) {
        range = range.previous(&b.tz);
    }
    let automations = summaries::load_automations(&core.db, &actor.business_id, range).await?;
    let reminder_figure = matches!(figure, Some(ReportFigure::Reminded | ReportFigure::ReminderConfirmed | ReportFigure::ReminderCancelled));
    // A reminder figure lists the reminded bookings whatever the filters say of the bookings
    // themselves (the reminders are filtered by their own channel and person): read unfiltered.
    let mut reminded_bookings: Vec<metrics::BookingFacts> = Vec::new();
    let period = match source {
        Source::Outcomes => {
            let rows = load_rows(core, &actor.business_id, range).await?;
            if reminder_figure {
                reminded_bookings = metrics::bookings(&rows);
            }
            Period::new(range, &b.tz, &b.hours, &rows, &filters(q))
        }
        Source::Summaries => {
            use summaries::Which;
            // Only what the listing shows: a figure counts either conversations or bookings,
            // and those a person was involved in are a small part of all conversations.
            let booking_figure = matches!(
                figure,
                Some(ReportFigure::Bookings | ReportFigure::Cancelled | ReportFigure::Attended | ReportFigure::NoShows)
            );
            let involved =
                matches!(figure, Some(ReportFigure::HandedOver | ReportFigure::TakenOver | ReportFigure::WaitForPerson | ReportFigure::FirstResponse));
            // The calls are the automations' (read above), not episodes nor bookings.
            let call_figure = matches!(figure, Some(ReportFigure::MissedCalls | ReportFigure::TextBacks | ReportFigure::Recovered));
            let episodes = match want {
                Want::Bookings | Want::Calls => None,
                _ if booking_figure || call_figure => None,
                _ if involved => Some(Which::Involved),
                _ => Some(Which::All),
            };
            let bookings = want == Want::Bookings || (want == Want::Figure && booking_figure);
            let (episodes, bookings) = summaries::load_all(&core.db, &actor.business_id, range, episodes, bookings).await?;
            if reminder_figure && want != Want::Conversations {
                // A reminded booking may have been made, and be, outside the period.
                let ids: Vec<String> = automations.reminded.iter().map(|r| r.booking_id.clone()).collect();
                reminded_bookings = summaries::load_bookings_by_id(&core.db, &actor.business_id, &ids).await?;
            }
            Period::from_facts(range, &b.tz, &b.hours, episodes, bookings, &filters(q))
        }
    }
    .with_automations(automations, &filters(q));
    let staff = names(core, &actor.business_id, "staff", false).await?;
    let services = names(core, &actor.business_id, "services", false).await?;
    let name = |map: &HashMap<String, String>, id: &str| map.get(id).cloned().unwrap_or_else(|| "(removed)".into());
    let episodes: Vec<_> = match figure {
        Some(f) => period.episodes_for(f),
        None => period.episodes.iter().collect(),
    };
    let by_id: HashMap<&str, &metrics::BookingFacts> = reminded_bookings.iter().map(|x| (x.booking_id.as_str(), x)).collect();
    let bookings: Vec<_> = match figure {
        Some(f) => match period.reminded_for(f) {
            Some(reminded) => reminded.iter().filter_map(|r| by_id.get(r.booking_id.as_str()).copied()).collect(),
            None => period.bookings_for(f),
        },
        None => period
            .bookings
            .iter()
            .filter(|x| period.counts_booking(ReportFigure::Bookings, x) || range.contains(x.starts_at))
            .collect(),
    };
    // Customers' names for the conversations listed (not for the figures).
    let mut customers: HashMap<String, Option<String>> = HashMap::new();
    let listed: Vec<String> = episodes.iter().map(|e| e.conversation_id.clone()).collect();
    let sql = "SELECT c.id, cu.name FROM conversations c JOIN customers cu ON cu.id = c.customer_id AND cu.business_id = c.business_id WHERE c.business_id = $1 AND c.id IN ({in})";
    for r in rows_in(core, sql, &actor.business_id, &listed).await? {
        customers.insert(r.try_get("id")?, r.try_get("name")?);
    }
    let calls = match figure.filter(|_| matches!(want, Want::Figure | Want::Calls)).and_then(|f| period.calls_for(f)) {
        Some(listed) => call_rows(core, &actor.business_id, &b.tz, listed).await?,
        None => Vec::new(),
    };
    let secs = |ms: i64| u32::try_from(ms.max(0) / 1000).unwrap_or(u32::MAX);
    let conversations = episodes
        .iter()
        .map(|e| ReportConversationRow {
            conversation_id: e.conversation_id.clone(),
            opened_at: rfc3339(e.start).to_string(),
            date: metrics::local_date(e.start, &b.tz).to_string(),
            channel: e.channel.clone(),
            reopened: e.reopened,
            handling: e.handling,
            customer_name: customers.get(&e.conversation_id).cloned().flatten(),
            ai_replies: e.ai_replies,
            human_replies: e.human_replies,
            first_response_secs: e.first_response.map(|(s, a)| secs(a - s)),
            first_response_business_secs: period.business_first_response(e).map(secs),
            wait_for_person_secs: e.wait_for_person_ms.map(secs),
            staff: e.staff.iter().map(|s| name(&staff, s)).collect(),
            resolved: e.resolved,
        })
        .collect();
    let bookings = bookings
        .iter()
        .map(|x| ReportBookingRow {
            booking_id: x.booking_id.clone(),
            made_at: x.made_at.map(|m| rfc3339(m).to_string()).unwrap_or_default(),
            made_date: x.made_at.map(|m| metrics::local_date(m, &b.tz).to_string()).unwrap_or_default(),
            starts_at: rfc3339(x.starts_at).to_string(),
            starts_date: metrics::local_date(x.starts_at, &b.tz).to_string(),
            source: x.source.clone(),
            channel: x.channel.clone(),
            service_id: x.service_id.clone(),
            service: name(&services, &x.service_id),
            staff_id: x.staff_id.clone(),
            staff: name(&staff, &x.staff_id),
            value_cents: x.value_cents,
            outcome: x.outcome.to_owned(),
            moves: x.moves,
        })
        .collect();
    Ok(Listed { conversations, bookings, calls })
}

/// A call's key (`twilio:CA…`: the provider and its id of the call), from its `missed_call`
/// outcome's id (`mc:{business}:{call}`).
fn call_key<'a>(business_id: &str, missed_call_id: &'a str) -> &'a str {
    missed_call_id.strip_prefix("mc:").and_then(|rest| rest.strip_prefix(business_id)).and_then(|rest| rest.strip_prefix(':')).unwrap_or(missed_call_id)
}

/// The rows of the calls a call figure counts, one per missed call or per text-back, with what
/// became of each call: its text-back and the booking that recovered it. Everything read is the
/// business's own (each statement names it).
async fn call_rows(core: &Core, business_id: &str, tz: &TimeZone, listed: CallsListed<'_>) -> Result<Vec<ReportCallRow>, Error> {
    /// A call as listed: its key, when, whose, and the recovery if known.
    struct Call {
        key: String,
        at: i64,
        customer_id: Option<String>,
        recovered: Option<(String, i64)>,
        text_back: Option<(i64, Option<String>)>,
    }
    let mut calls: Vec<Call> = match &listed {
        CallsListed::Missed(missed) => missed
            .iter()
            .map(|m| Call {
                key: call_key(business_id, &m.id).to_owned(),
                at: m.at,
                customer_id: m.customer_id.clone(),
                recovered: m.recovered_by.clone().zip(m.recovered_at),
                text_back: None,
            })
            .collect(),
        CallsListed::TextBacks(sent) => {
            // A text-back's run is keyed `text_back:{call}` and was planned when the call was
            // missed (migration 0026 dates the call by it too).
            let ids: Vec<String> = sent.iter().map(|t| t.id.clone()).collect();
            let sql = "SELECT id, dedupe_key, created_at FROM automation_runs WHERE business_id = $1 AND kind = 'text_back' AND id IN ({in})";
            let mut runs: HashMap<String, (String, i64)> = HashMap::new();
            for r in rows_in(core, sql, business_id, &ids).await? {
                let key: String = r.try_get("dedupe_key")?;
                runs.insert(r.try_get("id")?, (key.strip_prefix("text_back:").unwrap_or(&key).to_owned(), r.try_get("created_at")?));
            }
            sent.iter()
                .map(|t| {
                    let (key, at) = runs.get(&t.id).cloned().unwrap_or_else(|| (String::new(), t.at));
                    Call { key, at, customer_id: t.customer_id.clone(), recovered: None, text_back: Some((t.at, t.channel.clone())) }
                })
                .collect()
        }
    };
    let keys: Vec<String> = calls.iter().filter(|c| !c.key.is_empty()).map(|c| c.key.clone()).collect();
    match listed {
        CallsListed::Missed(_) => {
            // The text-back each call got, if it was sent (its outcome has the run's id).
            let dedupe: Vec<String> = keys.iter().map(|k| format!("text_back:{k}")).collect();
            let sql = "SELECT r.dedupe_key, o.at, o.channel FROM automation_runs r JOIN outcomes o ON o.id = r.id AND o.business_id = r.business_id                        AND o.kind = 'text_back' WHERE r.business_id = $1 AND r.dedupe_key IN ({in})";
            let mut sent: HashMap<String, (i64, Option<String>)> = HashMap::new();
            for r in rows_in(core, sql, business_id, &dedupe).await? {
                let key: String = r.try_get("dedupe_key")?;
                sent.insert(key.strip_prefix("text_back:").unwrap_or(&key).to_owned(), (r.try_get("at")?, r.try_get("channel")?));
            }
            for c in &mut calls {
                c.text_back = sent.remove(&c.key);
            }
        }
        CallsListed::TextBacks(_) => {
            // The call's recovery: at most one `recovered` outcome per call (`rec:` + its id).
            let ids: Vec<String> = keys.iter().map(|k| format!("rec:mc:{business_id}:{k}")).collect();
            let sql = "SELECT ref_id, booking_id, at FROM outcomes WHERE business_id = $1 AND kind = 'recovered' AND id IN ({in})";
            let mut recovered: HashMap<String, (String, i64)> = HashMap::new();
            for r in rows_in(core, sql, business_id, &ids).await? {
                let call: String = r.try_get("ref_id")?;
                recovered.insert(call_key(business_id, &call).to_owned(), (r.try_get("booking_id")?, r.try_get("at")?));
            }
            for c in &mut calls {
                c.recovered = recovered.remove(&c.key);
            }
        }
    }
    let customer_ids: Vec<String> = calls.iter().filter_map(|c| c.customer_id.clone()).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    let mut customers: HashMap<String, (Option<String>, Option<String>)> = HashMap::new();
    for r in rows_in(core, "SELECT id, name, phone FROM customers WHERE business_id = $1 AND id IN ({in})", business_id, &customer_ids).await? {
        customers.insert(r.try_get("id")?, (r.try_get("name")?, r.try_get("phone")?));
    }
    let time = |ms: i64| rfc3339(ms).to_string();
    Ok(calls
        .into_iter()
        .map(|c| {
            let (customer_name, customer_phone) = c.customer_id.as_ref().and_then(|id| customers.get(id).cloned()).unwrap_or_default();
            ReportCallRow {
                call_id: c.key,
                called_at: time(c.at),
                date: metrics::local_date(c.at, tz).to_string(),
                customer_id: c.customer_id.unwrap_or_default(),
                customer_name,
                customer_phone,
                text_back_sent_at: c.text_back.as_ref().map(|(at, _)| time(*at)),
                text_back_channel: c.text_back.and_then(|(_, channel)| channel),
                recovered_by_booking_id: c.recovered.as_ref().map(|(b, _)| b.clone()),
                booked_at: c.recovered.map(|(_, at)| time(at)),
            }
        })
        .collect())
}

/// A CSV cell that a spreadsheet will not run as a formula.
fn cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

fn csv_error(e: impl std::fmt::Display) -> Error {
    Error::internal(crate::store::StoreError::Corrupt(format!("csv: {e}")))
}

/// `GET /v1/reports/conversations.csv`: one row per conversation episode behind `figure` (all
/// of the period's without one).
pub async fn conversations_csv(core: &Core, actor: &Actor, q: ReportQuery) -> Result<String, Error> {
    actor.require(Permission::ViewReports)?;
    let rows = rows_of(core, actor, &q, q.figure.or(Some(ReportFigure::Conversations)), Want::Conversations, Source::Summaries).await?.conversations;
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "conversation_id", "opened_at", "date", "channel", "reopened", "handling", "customer", "ai_replies", "human_replies",
        "first_response_secs", "first_response_business_secs", "wait_for_person_secs", "staff", "resolved",
    ])
    .map_err(csv_error)?;
    let opt = |v: Option<u32>| v.map(|v| v.to_string()).unwrap_or_default();
    for r in rows {
        w.write_record([
            r.conversation_id,
            r.opened_at,
            r.date,
            r.channel,
            r.reopened.to_string(),
            r.handling.as_str().to_owned(),
            cell(r.customer_name.as_deref().unwrap_or("")),
            r.ai_replies.to_string(),
            r.human_replies.to_string(),
            opt(r.first_response_secs),
            opt(r.first_response_business_secs),
            opt(r.wait_for_person_secs),
            cell(&r.staff.join("; ")),
            r.resolved.to_string(),
        ])
        .map_err(csv_error)?;
    }
    String::from_utf8(w.into_inner().map_err(csv_error)?).map_err(csv_error)
}

/// `GET /v1/reports/bookings.csv`: one row per booking behind `figure` (without one: every
/// booking made in the period or with its appointment in it).
pub async fn bookings_csv(core: &Core, actor: &Actor, q: ReportQuery) -> Result<String, Error> {
    actor.require(Permission::ViewReports)?;
    let rows = rows_of(core, actor, &q, q.figure, Want::Bookings, Source::Summaries).await?.bookings;
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "booking_id", "made_at", "made_date", "starts_at", "starts_date", "source", "channel", "service", "staff", "value_cents", "outcome", "moves",
    ])
    .map_err(csv_error)?;
    for r in rows {
        w.write_record([
            r.booking_id,
            r.made_at,
            r.made_date,
            r.starts_at,
            r.starts_date,
            r.source,
            r.channel.unwrap_or_default(),
            cell(&r.service),
            cell(&r.staff),
            r.value_cents.to_string(),
            r.outcome,
            r.moves.to_string(),
        ])
        .map_err(csv_error)?;
    }
    String::from_utf8(w.into_inner().map_err(csv_error)?).map_err(csv_error)
}

/// `GET /v1/reports/calls.csv`: one row per call behind `figure` (`missed_calls` without one;
/// `text_backs`: one per text-back, the call it answered).
pub async fn calls_csv(core: &Core, actor: &Actor, q: ReportQuery) -> Result<String, Error> {
    actor.require(Permission::ViewReports)?;
    let rows = rows_of(core, actor, &q, q.figure.or(Some(ReportFigure::MissedCalls)), Want::Calls, Source::Summaries).await?.calls;
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "call_id", "called_at", "date", "customer_id", "customer", "phone", "text_back_sent_at", "text_back_channel", "recovered_by_booking_id", "booked_at",
    ])
    .map_err(csv_error)?;
    for r in rows {
        w.write_record([
            cell(&r.call_id),
            r.called_at,
            r.date,
            r.customer_id,
            cell(r.customer_name.as_deref().unwrap_or("")),
            cell(r.customer_phone.as_deref().unwrap_or("")),
            r.text_back_sent_at.unwrap_or_default(),
            r.text_back_channel.unwrap_or_default(),
            r.recovered_by_booking_id.unwrap_or_default(),
            r.booked_at.unwrap_or_default(),
        ])
        .map_err(csv_error)?;
    }
    String::from_utf8(w.into_inner().map_err(csv_error)?).map_err(csv_error)
}
