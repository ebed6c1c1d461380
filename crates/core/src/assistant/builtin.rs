//! The built-in assistant: no language model, English only, clearly a simpler engine — but
//! correct. It greets, lists services and prices, gives opening hours, and books, moves and
//! cancels appointments through the same scheduling engine as everyone else. It never books
//! without an explicit yes to a concrete proposal ("Shall I book a haircut on Tuesday 24 November
//! at 15:00?"), never offers a time outside availability, and hands over to a person when asked
//! (or when it cannot make sense of the customer twice in a row).

use crate::Core;
use std::str::FromStr;

use jiff::Timestamp;
use protocol::{AuthorKind, BookingSource, BookingStatus, Direction, MessageKind, Service};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::assistant::{Context, Outcome};
use crate::scheduling::bookings::{BookingChange, NewBooking};
use crate::error::{BookingError, Error};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct State {
    pending: Option<Proposal>,
    /// Messages in a row it did not understand.
    misses: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
enum Proposal {
    Book { service_id: String, start: String },
    Move { booking_id: String, start: String },
    Cancel { booking_id: String },
}

const PERSON: [&str; 14] = [
    "human", "person", "someone", "somebody", "staff", "manager", "owner", "speak to", "talk to", "call me", "agent", "not a bot", "receptionist",
    "real person",
];
const YES: [&str; 16] = ["yes", "yeah", "yep", "yup", "sure", "ok", "okay", "please do", "confirm", "book it", "sounds good", "perfect", "great", "that works", "go ahead", "correct"];
const NO: [&str; 7] = ["no", "nope", "not", "don't", "dont", "different", "another"];

/// Whole words or phrases, so "ok" does not match "book".
fn says(text: &str, phrases: &[&str]) -> bool {
    let padded = format!(" {} ", text.chars().map(|c| if c.is_alphanumeric() || c == '\'' { c } else { ' ' }).collect::<String>());
    phrases.iter().any(|p| padded.contains(&format!(" {p} ")))
}

fn label(t: Timestamp, ctx: &Context) -> String {
    t.to_zoned(ctx.tz.clone()).strftime("%A %-d %B at %H:%M").to_string()
}

fn price(s: &Service) -> String {
    format!("{:.2}", s.price_cents as f64 / 100.0)
}

/// The service a message names: the one sharing the most (non-trivial) words with it; "cut"
/// finds "Men's cut". With one service, that one.
fn service_named<'a>(text: &str, services: &'a [Service]) -> Option<&'a Service> {
    if services.len() == 1 {
        return services.first();
    }
    let words: Vec<String> = text.split(|c: char| !c.is_alphanumeric()).filter(|w| w.len() >= 3).map(str::to_owned).collect();
    services
        .iter()
        .map(|s| {
            let name = s.name.to_lowercase();
            let score = words.iter().filter(|w| name.contains(w.as_str()) || w.contains(name.as_str()) || (w.ends_with("cut") && name.contains("cut"))).count();
            (score, s)
        })
        .filter(|(score, _)| *score > 0)
        .max_by_key(|(score, s)| (*score, std::cmp::Reverse(s.name.len())))
        .map(|(_, s)| s)
}

async fn load_state(state: &Core, business_id: &str, conversation_id: &str) -> Result<State, Error> {
    let text: Option<String> = sqlx::query_scalar("SELECT state FROM assistant_state WHERE conversation_id = $1 AND business_id = $2")
        .bind(conversation_id)
        .bind(business_id)
        .fetch_optional(state.db.reader())
        .await?;
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default())
}

/// What the customer has said since the last reply.
fn latest_words(ctx: &Context) -> String {
    let mut lines: Vec<&str> = ctx
        .history
        .iter()
        .rev()
        .take_while(|m| m.direction == Direction::Inbound || m.kind == MessageKind::Event)
        .filter(|m| m.author_kind == AuthorKind::Customer)
        .map(|m| m.body.as_str())
        .collect();
    lines.reverse();
    lines.join(" ")
}

/// Runs a turn; returns the outcome and the memory to keep with the reply (see
/// `assistant::commit`: a proposal only stands if the customer saw it).
pub async fn run(state: &Core, ctx: &Context) -> Result<(Outcome, String), Error> {
    let text = latest_words(ctx);
    let lower = text.to_lowercase();
    let mut st = load_state(state, &ctx.business_id, &ctx.conversation.id).await?;
    // A proposal stops being an open question once a colleague has written (taking over and
    // escalating also forget it, in control.rs).
    let last_outbound = ctx.history.iter().rev().find(|m| m.direction == Direction::Outbound && m.kind != MessageKind::Event);
    if last_outbound.is_none_or(|m| m.author_kind != AuthorKind::Assistant) {
        st.pending = None;
    }
    let outcome = decide(state, ctx, &text, &lower, &mut st).await?;
    Ok((outcome, serde_json::to_string(&st).map_err(Error::internal)?))
}

/// Keeps the built-in assistant's memory, in the transaction of the reply it belongs to.
pub async fn remember(tx: &mut crate::store::BusinessTx, conversation_id: &str, memory: &str) -> Result<(), Error> {
    let business_id = tx.business_id().to_owned();
    sqlx::query(
        "INSERT INTO assistant_state (conversation_id, business_id, state, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (conversation_id, business_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
    )
    .bind(conversation_id)
    .bind(business_id)
    .bind(memory)
    .bind(tx.now_ms())
    .execute(tx.conn())
    .await?;
    Ok(())
}

async fn decide(state: &Core, ctx: &Context, text: &str, lower: &str, st: &mut State) -> Result<Outcome, Error> {
    let reply = |s: String| Ok(Outcome::Reply(s));
    if says(lower, &PERSON) {
        return Ok(Outcome::Escalate("the customer asked for a person".into()));
    }
    let services = {
        let mut conn = state.db.reader().acquire().await?;
        crate::assistant::active_services(&mut conn, &ctx.business_id).await?
    };
    // An answer to a proposal. A "no" anywhere, or a new day or time, is not a yes ("No, that's
    // not correct", "ok but 4pm instead?").
    if let Some(proposal) = st.pending.clone() {
        let mentions_when = {
            let w = crate::assistant::when::parse(text, &state.db.now().as_jiff().to_zoned(ctx.tz.clone()));
            w.time.is_some() || w.date.is_some()
        };
        if says(lower, &NO) && !mentions_when {
            st.pending = None;
            return reply("No problem. What day and time would suit you better?".into());
        }
        if says(lower, &YES) && !says(lower, &NO) && !mentions_when {
            st.pending = None;
            st.misses = 0;
            return carry_out(state, ctx, proposal, &services).await;
        }
        // "4pm instead?": the same service, the same day unless another is named.
        if let Proposal::Book { service_id, start } = &proposal {
            let now = state.db.now().as_jiff().to_zoned(ctx.tz.clone());
            let mut when = crate::assistant::when::parse(text, &now);
            if when.time.is_some() && service_named(lower, &services).is_none_or(|s| &s.id == service_id) {
                if when.date.is_none() {
                    when.date = Timestamp::from_str(start).ok().map(|t| t.to_zoned(ctx.tz.clone()).date());
                }
                if let (Some(new_start), Some(service)) = (when.resolve(&now), services.iter().find(|s| &s.id == service_id)) {
                    st.misses = 0;
                    return match check(state, ctx, service, new_start, None, None).await? {
                        Ok(()) => {
                            st.pending = Some(Proposal::Book { service_id: service.id.to_string(), start: new_start.to_string() });
                            reply(format!("I can book you in for a {} on {}. Shall I confirm it?", service.name, label(new_start, ctx)))
                        }
                        Err(alternatives) => {
                            st.pending = None;
                            reply(unavailable(ctx, &alternatives))
                        }
                    };
                }
            }
        }
    }
    let now = state.db.now().as_jiff().to_zoned(ctx.tz.clone());
    let when = crate::assistant::when::parse(text, &now);
    let upcoming = upcoming_bookings(state, ctx).await?;

    if lower.contains("cancel") {
        st.misses = 0;
        return match upcoming.first() {
            None => reply("You don't have any upcoming appointments with us.".into()),
            Some((id, service, start)) => {
                st.pending = Some(Proposal::Cancel { booking_id: id.clone() });
                reply(format!("Please reply yes to confirm: shall I cancel your {service} on {}?", label(*start, ctx)))
            }
        };
    }
    // "R" answers a reminder's "R to reschedule".
    let moving = ["reschedule", "move", "change my", "different time", "another time", "instead"].iter().any(|w| lower.contains(w))
        || (lower.trim() == "r" && answers_reminder(ctx));
    if moving && !upcoming.is_empty() {
        st.misses = 0;
        let (id, service_name, current_start) = &upcoming[0];
        // "Move it to 4pm": the same day as now, unless another day is named.
        let mut when = when.clone();
        if when.date.is_none() {
            when.date = Some(current_start.to_zoned(ctx.tz.clone()).date());
        }
        let Some(start) = when.resolve(&now) else {
            return reply(format!("Sure — what day and time would you like to move your {service_name} to?"));
        };
        let booking = {
            let mut conn = state.db.reader().acquire().await?;
            crate::scheduling::bookings::load(&mut conn, &ctx.business_id, id).await?.ok_or_else(|| Error::NotFound("booking"))?
        };
        let service = services.iter().find(|s| s.id == booking.service_id).cloned();
        let Some(service) = service else { return Ok(Outcome::Escalate("the booking's service is no longer offered".into())) };
        return match check(state, ctx, &service, start, Some(&booking.staff_id), Some(id)).await? {
            Ok(()) => {
                st.pending = Some(Proposal::Move { booking_id: id.clone(), start: start.to_string() });
                reply(format!("I can move your {} to {}. Shall I go ahead?", service.name, label(start, ctx)))
            }
            Err(alternatives) => reply(unavailable(ctx, &alternatives)),
        };
    }
    let wants_booking = ["book", "appointment", "available", "availability", "free", "slot", "come in", "space", "anything"].iter().any(|w| lower.contains(w));
    let service = service_named(lower, &services);
    if wants_booking || service.is_some() && (when.date.is_some() || when.time.is_some()) {
        st.misses = 0;
        let Some(service) = service else {
            let names = services.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ");
            return reply(format!("Happy to help! Which service would you like? We offer: {names}."));
        };
        return match (when.resolve(&now), when.date) {
            (Some(start), _) => match check(state, ctx, service, start, None, None).await? {
                Ok(()) => {
                    st.pending = Some(Proposal::Book { service_id: service.id.to_string(), start: start.to_string() });
                    reply(format!("I can book you in for a {} on {}. Shall I confirm it?", service.name, label(start, ctx)))
                }
                Err(alternatives) => reply(unavailable(ctx, &alternatives)),
            },
            (None, Some(date)) => {
                let times = free_on(state, ctx, service, date).await?;
                if times.is_empty() {
                    reply(format!("Sorry, there's nothing free for a {} that day. Would another day work?", service.name))
                } else {
                    reply(format!("On {} I have {} free for a {}. Which time suits you?", date.strftime("%A %-d %B"), times.join(", "), service.name))
                }
            }
            (None, None) => {
                let next = next_free(state, ctx, service).await?;
                if next.is_empty() {
                    reply(format!("Sorry, there's nothing free for a {} in the coming weeks.", service.name))
                } else {
                    reply(format!("The next free times for a {} are {}. Which would you like?", service.name, next.join("; ")))
                }
            }
        };
    }
    if ["price", "cost", "how much", "services", "offer", "menu"].iter().any(|w| lower.contains(w)) {
        st.misses = 0;
        let list = services.iter().map(|s| format!("{} ({} min, {})", s.name, s.duration_minutes, price(s))).collect::<Vec<_>>().join("; ");
        return reply(format!("Here's what we offer: {list}. Would you like to book?"));
    }
    if ["open", "hours", "close", "closing"].iter().any(|w| lower.contains(w)) {
        st.misses = 0;
        let schedule = {
            let mut conn = state.db.reader().acquire().await?;
            crate::scheduling::hours::load_business_schedule(&mut conn, &ctx.business_id).await?
        };
        let days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
        let hours = schedule
            .opening_hours
            .days()
            .iter()
            .zip(days)
            .map(|(d, n)| if d.is_empty() { format!("{n} closed") } else { format!("{n} {}", d.iter().map(|i| format!("{}–{}", i.start, i.end)).collect::<Vec<_>>().join(", ")) })
            .collect::<Vec<_>>()
            .join("; ");
        return reply(format!("Our opening hours: {hours}."));
    }
    if says(lower, &["hi", "hello", "hey", "good morning", "good afternoon", "good evening", "hiya"]) {
        st.misses = 0;
        return reply(format!(
            "Hello{}! I'm {}. I can book, move or cancel appointments and tell you about our services and opening hours. How can I help?",
            ctx.customer.name.as_deref().map(|n| format!(" {}", n.split_whitespace().next().unwrap_or(n))).unwrap_or_default(),
            ctx.settings.persona
        ));
    }
    if says(lower, &["thanks", "thank you", "cheers", "ta"]) {
        st.misses = 0;
        return reply("You're welcome! Anything else I can help with?".into());
    }
    if st.pending.is_some() {
        return reply("Just to check — shall I go ahead with that? Please reply yes or no.".into());
    }
    st.misses += 1;
    if st.misses >= 2 {
        st.misses = 0;
        return Ok(Outcome::Escalate("the assistant did not understand the customer".into()));
    }
    reply("Sorry, I didn't quite catch that. I can book, move or cancel appointments, or tell you our prices and opening hours. You can also ask for a person.".into())
}

/// Upcoming pending or confirmed bookings of the customer: (id, service name, start).
async fn upcoming_bookings(state: &Core, ctx: &Context) -> Result<Vec<(String, String, Timestamp)>, Error> {
    let rows = sqlx::query(
        "SELECT b.id, b.start_at, s.name FROM bookings b JOIN services s ON s.id = b.service_id WHERE b.customer_id = $1 AND b.business_id = $2 \
         AND b.status IN ('pending', 'confirmed') AND b.start_at >= $3 ORDER BY b.start_at LIMIT 5",
    )
    .bind(&ctx.customer.id)
    .bind(&ctx.business_id)
    .bind(state.db.now_ms())
    .fetch_all(state.db.reader())
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("name")?, Timestamp::from_millisecond(r.try_get("start_at")?).map_err(Error::internal)?)))
        .collect()
}

/// Whether `start` can be booked (online rules); if not, the nearest free times.
async fn check(
    state: &Core,
    ctx: &Context,
    service: &Service,
    start: Timestamp,
    staff: Option<&str>,
    moving: Option<&str>,
) -> Result<Result<(), Vec<Timestamp>>, Error> {
    let mut conn = state.db.reader().acquire().await?;
    let window = 8 * 86_400_000;
    let from = Timestamp::from_millisecond(start.as_millisecond() - window).map_err(Error::internal)?;
    let to = Timestamp::from_millisecond(start.as_millisecond() + window).map_err(Error::internal)?;
    let loaded = crate::scheduling::hours::load_for_service(&mut conn, &ctx.business_id, service, from, to, staff.is_some(), moving).await?;
    let filter = staff.map(|s| vec![s.to_owned()]);
    let now = state.db.now().as_jiff();
    if loaded.schedule.check_bookable(&loaded.spec, filter.as_deref(), start, now).is_ok() && loaded.schedule.free_at(&loaded.spec, filter.as_deref(), start, now).is_some() {
        return Ok(Ok(()));
    }
    let mut near: Vec<Timestamp> = loaded.schedule.nearest(&loaded.spec, filter.as_deref(), start, now, 3).into_iter().map(|s| s.start).collect();
    near.sort();
    Ok(Err(near))
}

fn unavailable(ctx: &Context, alternatives: &[Timestamp]) -> String {
    if alternatives.is_empty() {
        "Sorry, that time isn't available and I can't see anything close to it. Would another day work?".into()
    } else {
        let list = alternatives.iter().map(|t| label(*t, ctx)).collect::<Vec<_>>().join("; ");
        format!("Sorry, that time isn't available. The nearest free times are {list}. Would one of those work?")
    }
}

async fn free_on(state: &Core, ctx: &Context, service: &Service, date: jiff::civil::Date) -> Result<Vec<String>, Error> {
    let mut conn = state.db.reader().acquire().await?;
    let from = date.to_zoned(ctx.tz.clone()).map_err(Error::internal)?.timestamp();
    let to = date.tomorrow().map_err(Error::internal)?.to_zoned(ctx.tz.clone()).map_err(Error::internal)?.timestamp();
    let loaded = crate::scheduling::hours::load_for_service(&mut conn, &ctx.business_id, service, from, to, false, None).await?;
    let slots = loaded.schedule.free_slots(&loaded.spec, None, from, to, state.db.now().as_jiff(), 6, false);
    Ok(slots.iter().map(|s| s.start.to_zoned(ctx.tz.clone()).strftime("%H:%M").to_string()).collect())
}

async fn next_free(state: &Core, ctx: &Context, service: &Service) -> Result<Vec<String>, Error> {
    let mut conn = state.db.reader().acquire().await?;
    let now = state.db.now().as_jiff();
    let to = Timestamp::from_millisecond(now.as_millisecond() + 21 * 86_400_000).map_err(Error::internal)?;
    let loaded = crate::scheduling::hours::load_for_service(&mut conn, &ctx.business_id, service, now, to, false, None).await?;
    Ok(loaded.schedule.free_slots(&loaded.spec, None, now, to, now, 3, false).iter().map(|s| label(s.start, ctx)).collect())
}

/// Books in a transaction of its own.
async fn book(state: &Core, ctx: &Context, new: NewBooking) -> Result<protocol::Booking, Error> {
    let mut tx = state.db.begin_business(&ctx.business_id).await?;
    let booking = crate::scheduling::bookings::create(&mut tx, new).await?;
    tx.commit_even_if_unchanged().await?;
    Ok(booking)
}

/// Moves or cancels in a transaction of its own.
async fn change_booking(state: &Core, ctx: &Context, id: &str, change: BookingChange) -> Result<protocol::Booking, Error> {
    let mut tx = state.db.begin_business(&ctx.business_id).await?;
    let booking = crate::scheduling::bookings::update(&mut tx, id, change, None, BookingSource::Assistant).await?;
    tx.commit_even_if_unchanged().await?;
    Ok(booking)
}

async fn carry_out(state: &Core, ctx: &Context, proposal: Proposal, services: &[Service]) -> Result<Outcome, Error> {
    let result = match &proposal {
        Proposal::Book { service_id, start } => {
            let start = Timestamp::from_str(start).map_err(Error::internal)?;
            book(
                state,
                ctx,
                NewBooking {
                    id: None,
                    customer_id: ctx.customer.id.to_string(),
                    service_id: service_id.clone(),
                    staff_id: None,
                    start,
                    notes: String::new(),
                    source: BookingSource::Assistant,
                    status: BookingStatus::Confirmed,
                    created_by_staff_id: None,
                },
            )
            .await
            .map(|b| {
                let name = services.iter().find(|s| s.id == b.service_id).map(|s| s.name.as_str()).unwrap_or("appointment");
                format!("Done! You're booked for a {name} on {}. See you then!", label(start, ctx))
            })
        }
        Proposal::Move { booking_id, start } => {
            let start = Timestamp::from_str(start).map_err(Error::internal)?;
            let version = current_version(state, ctx, booking_id).await?;
            let change = BookingChange { expected_version: version, start: Some(start), ..Default::default() };
            change_booking(state, ctx, booking_id, change)
                .await
                .map(|_| format!("All set — your appointment is now on {}.", label(start, ctx)))
        }
        Proposal::Cancel { booking_id } => {
            let version = current_version(state, ctx, booking_id).await?;
            let change = BookingChange {
                expected_version: version,
                status: Some(BookingStatus::Cancelled),
                cancel_reason: Some("Cancelled by the customer via the assistant".into()),
                ..Default::default()
            };
            change_booking(state, ctx, booking_id, change)
                .await
                .map(|_| "Your appointment is cancelled. We hope to see you another time!".to_owned())
        }
    };
    match result {
        Ok(text) => Ok(Outcome::Reply(text)),
        Err(Error::Booking(BookingError::SlotTaken { alternatives })) => {
            let alternatives: Vec<Timestamp> = alternatives.iter().map(|a| a.start.as_jiff()).take(3).collect();
            Ok(Outcome::Reply(format!("Oh no — that time was just taken. {}", unavailable(ctx, &alternatives).trim_start_matches("Sorry, that time isn't available. "))))
        }
        Err(e) if !e.is_internal() => Ok(Outcome::Reply(format!("Sorry, I couldn't do that: {e}"))),
        Err(e) => Err(e),
    }
}

async fn current_version(state: &Core, ctx: &Context, booking_id: &str) -> Result<i64, Error> {
    let mut conn = state.db.reader().acquire().await?;
    Ok(crate::scheduling::bookings::load(&mut conn, &ctx.business_id, booking_id).await?.ok_or_else(|| Error::NotFound("booking"))?.version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_match_whole() {
        assert!(says("ok then", &YES));
        assert!(!says("can i book", &YES), "ok inside book");
        assert!(says("yes please!", &YES));
        assert!(says("i want to talk to a real person", &PERSON));
        assert!(!says("personally i think", &["person"]));
    }
}

/// Whether the customer's last message answers a reminder (the last thing said to them).
fn answers_reminder(ctx: &Context) -> bool {
    ctx.history
        .iter()
        .rev()
        .find(|m| m.direction == protocol::Direction::Outbound && m.kind != protocol::MessageKind::Event)
        .and_then(|m| m.automation.as_deref())
        .is_some_and(|a| a.starts_with("reminder:"))
}
