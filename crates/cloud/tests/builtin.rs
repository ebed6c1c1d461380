//! The built-in assistant (no language model) over real WhatsApp webhooks, on SQLite and
//! PostgreSQL: the whole booking flow, and a table of real-world phrasings.

use jiff::tz::TimeZone;
use reqwest::StatusCode;
use serde_json::{json, Value};
use switchboard_testkit::fakes::FakeProviders;
use switchboard_testkit::whatsapp::*;
use switchboard_testkit::{on_both_engines, every_day, Engine, Tenant, TestApp};

struct Desk {
    app: TestApp,
    _fake: FakeProviders,
    owner: Tenant,
    from: String,
    n: std::cell::Cell<u32>,
}

async fn desk(engine: Engine) -> Desk {
    let (app, fake) = spawn_with_fakes(engine, |_| {}).await;
    let owner = app.signup("builtin").await;
    app.patch("/v1/business", &owner.access, json!({"timezone": "Europe/London"})).await;
    let week = every_day("00:00", "24:00");
    app.patch("/v1/schedule", &owner.access, json!({"opening_hours": week, "min_notice_minutes": 0, "max_advance_days": 120, "slot_interval_minutes": 15})).await;
    app.post("/v1/services", &owner.access, json!({"name": "Haircut", "duration_minutes": 45, "price_cents": 3500})).await;
    app.post("/v1/services", &owner.access, json!({"name": "Full colour", "duration_minutes": 120, "price_cents": 9000})).await;
    connect_whatsapp(&app, &owner, PHONE_ID, &app_secret(&owner)).await;
    app.patch("/v1/assistant", &owner.access, json!({"enabled": true, "persona": "Mia"})).await;
    Desk { app, _fake: fake, owner, from: "447911123470".into(), n: std::cell::Cell::new(0) }
}

impl Desk {
    /// The customer writes; returns the assistant's answer (or "" if it said nothing).
    async fn say(&self, body: &str) -> String {
        self.n.set(self.n.get() + 1);
        let id = format!("wamid.b{}-{}", self.n.get(), self.from);
        let note = notification(PHONE_ID, json!([{"profile": {"name": "Nia Jones"}, "wa_id": self.from}]), json!([text(&id, &self.from, body)]), Value::Null);
        let (status, _) = post_whatsapp_signed(&self.app, &note, &app_secret(&self.owner)).await;
        assert_eq!(status, StatusCode::OK);
        let business = self.owner.business_id.clone();
        self.app
            .settled("the turn ends", || async {
                count(&self.app, "SELECT COUNT(*) FROM webhook_events WHERE business_id = $1 AND processed_at IS NULL", &business).await == 0
                    && count(&self.app, "SELECT COUNT(*) FROM assistant_jobs WHERE business_id = $1 AND status IN ('queued', 'running')", &business).await == 0
            })
            .await;
        let inbox = self.app.get("/v1/conversations", &self.owner.access).await;
        let conversation = inbox.body["items"][0]["id"].as_str().unwrap().to_owned();
        let page = self.app.get(&format!("/v1/conversations/{conversation}/messages?limit=10"), &self.owner.access).await;
        let items = page.body["items"].as_array().unwrap();
        // The assistant's answer to the customer's last message (a booking's confirmation may
        // follow it: that is an automation's, not the assistant's).
        let asked = items.iter().rposition(|m| m["author_kind"] == "customer").unwrap();
        items[asked + 1..].iter().find(|m| m["author_kind"] == "assistant").map(|m| m["body"].as_str().unwrap().to_owned()).unwrap_or_default()
    }

    async fn bookings(&self) -> Vec<Value> {
        let today = jiff::Timestamp::now().to_zoned(TimeZone::UTC).date();
        let (from, to) = (today.yesterday().unwrap(), today.checked_add(jiff::Span::new().days(300)).unwrap());
        self.app.all_items(&format!("/v1/bookings?from={from}&to={to}"), &self.owner.access).await
    }

    async fn mode(&self) -> String {
        self.app.get("/v1/conversations", &self.owner.access).await.body["items"][0]["mode"].as_str().unwrap().to_owned()
    }
}

fn local(t: &str) -> String {
    let tz = TimeZone::get("Europe/London").unwrap();
    t.parse::<jiff::Timestamp>().unwrap().to_zoned(tz).strftime("%A %-d %B at %H:%M").to_string()
}

on_both_engines! {

spawn = desk;

async fn greets_prices_books_moves_cancels_and_hands_over(d: Desk) {
    let hello = d.say("Hi there").await;
    assert!(hello.starts_with("Hello Nia!") && hello.contains("Mia"), "{hello}");
    let prices = d.say("How much is a haircut?").await;
    assert!(prices.contains("Haircut (45 min, 35.00)") && prices.contains("Full colour"), "{prices}");
    let hours = d.say("What are your opening hours?").await;
    assert!(hours.contains("Mon 00:00–24:00"), "{hours}");

    let proposal = d.say("Can I book a haircut tomorrow at 3pm?").await;
    assert!(proposal.starts_with("I can book you in for a Haircut on") && proposal.contains("at 15:00") && proposal.ends_with("Shall I confirm it?"), "{proposal}");
    assert!(d.bookings().await.is_empty(), "nothing is booked before the customer confirms");
    let unsure = d.say("hmm let me think").await;
    assert!(d.bookings().await.is_empty(), "still nothing: {unsure}");
    assert!(unsure.contains("shall I go ahead"), "the proposal is asked again: {unsure}");
    let done = d.say("Yes please").await;
    assert!(done.starts_with("Done! You're booked for a Haircut on"), "{done}");
    let bookings = d.bookings().await;
    assert_eq!(bookings.len(), 1);
    assert_eq!(bookings[0]["source"], "assistant");
    assert!(local(bookings[0]["start"].as_str().unwrap()).ends_with("at 15:00"));

    let moving = d.say("Could we move it to 4pm instead?").await;
    assert!(moving.contains("move your Haircut to") && moving.contains("16:00"), "{moving}");
    let moved = d.say("yes").await;
    assert!(moved.starts_with("All set"), "{moved}");
    let (before, after) = (local(bookings[0]["start"].as_str().unwrap()), local(d.bookings().await[0]["start"].as_str().unwrap()));
    assert_eq!(after, before.replace("at 15:00", "at 16:00"), "moved to 4pm on the same day");

    let cancel = d.say("Actually I need to cancel my appointment").await;
    assert!(cancel.starts_with("Please reply yes to confirm: shall I cancel your Haircut"), "{cancel}");
    let no = d.say("no, keep it").await;
    assert!(no.contains("What day and time"), "{no}");
    assert_eq!(d.bookings().await[0]["status"], "confirmed");
    d.say("please cancel my appointment").await;
    let cancelled = d.say("yes cancel it").await;
    assert!(cancelled.contains("cancelled"), "{cancelled}");
    assert_eq!(d.bookings().await[0]["status"], "cancelled");

    let handover = d.say("Can I talk to a real person please").await;
    assert_eq!(handover, switchboard_cloud::assistant::HOLDING_REPLY);
    assert_eq!(d.mode().await, "needs_human");
}

async fn no_is_never_yes_and_a_new_time_is_a_new_question(d: Desk) {
    let proposal = d.say("Can I book a haircut tomorrow at 3pm?").await;
    assert!(proposal.ends_with("Shall I confirm it?"), "{proposal}");
    let r = d.say("No, that's not correct").await;
    assert!(r.contains("What day and time"), "{r}");
    assert!(d.bookings().await.is_empty());
    d.say("haircut tomorrow at 3pm").await;
    let r = d.say("ok but 4pm instead?").await;
    assert!(r.contains("16:00") && r.ends_with('?'), "a new proposal, not a booking: {r}");
    assert!(d.bookings().await.is_empty());
    let r = d.say("Not great").await;
    assert!(d.bookings().await.is_empty(), "{r}");
    // Taken over by a person, then handed back: the old proposal is not a question any more.
    d.say("haircut tomorrow at 5pm").await;
    let id = d.app.get("/v1/conversations", &d.owner.access).await.body["items"][0]["id"].as_str().unwrap().to_owned();
    d.app.post(&format!("/v1/conversations/{id}/takeover"), &d.owner.access, json!({})).await;
    d.app.post(&format!("/v1/conversations/{id}/handback"), &d.owner.access, json!({})).await;
    d.say("ok thanks").await;
    assert!(d.bookings().await.is_empty(), "a stale proposal was booked");
    // STOP on WhatsApp opts out; the assistant does not answer it.
    let r = d.say("STOP").await;
    assert_eq!(r, "");
    assert_eq!(d.app.get("/v1/customers", &d.owner.access).await.body["items"][0]["opted_out_whatsapp"], true);
}

async fn a_taken_time_gets_the_nearest_free_times(d: Desk) {
    let first = d.say("Book a haircut tomorrow at 10am").await;
    assert!(first.contains("10:00"), "{first}");
    d.say("yes").await;
    // Someone else asks for the same time (only one person works here).
    let other = Desk { from: "447911123471".into(), ..d };
    let reply = other.say("haircut tomorrow at 10am please").await;
    assert!(reply.starts_with("Sorry, that time isn't available. The nearest free times are"), "{reply}");
    assert!(reply.contains("09:15") || reply.contains("10:45"), "{reply}");
    assert_eq!(other.bookings().await.len(), 1);
    // Twice not understood: a person is asked for.
    other.say("blorp").await;
    let second = other.say("zzzz").await;
    assert_eq!(second, switchboard_cloud::assistant::HOLDING_REPLY);
}

async fn thirty_one_phrasings_complete_the_booking_flow(d: Desk) {
    let phrasings = [
        "Can I book a haircut tomorrow at 3pm?", "haircut tomorrow 15:00 please", "haircut next Tuesday at 10am", "haircut this Tuesday at 10am",
        "a haircut Friday at noon", "haircut saturday half past 4", "haircut Monday at quarter past 11", "haircut wednesday at quarter to 2",
        "haircut tomorrow at 4 o'clock", "haircut the day after tomorrow at 2pm", "haircut in 3 days at 11am", "haircut on 5 December at 14:30",
        "haircut December 5th at 2:30pm", "haircut 5/12 at 10am", "haircut 2026-12-05 at 9am", "haircut today at 11pm", "haircut tonight at 7",
        "haircut Friday 9.30am", "haircut thursday at 3", "haircut tomorrow at 10 in the morning", "haircut next friday 4pm",
        "haircut the 30th at 11am", "haircut at 11pm", "haircut 8am", "haircut Tues at midday", "could you do a haircut Sat 11:45?",
        "haircut tomorrow at 3pm New York time", "haircut Monday 10am GMT", "haircut tomorrow at 9 pm", "haircut in 2 weeks at 1pm",
        "haircut 1st of December at half past ten",
    ];
    assert!(phrasings.len() >= 30);
    let tz = TimeZone::get("Europe/London").unwrap();
    let mut taken = std::collections::BTreeSet::new();
    let mut booked = 0;
    for phrase in phrasings {
        let now = jiff::Timestamp::now().to_zoned(tz.clone());
        let expected = switchboard_cloud::when::parse(phrase, &now).resolve(&now).expect(phrase);
        let proposal = d.say(phrase).await;
        let start_ms = expected.as_millisecond();
        let overlaps = taken.iter().any(|t: &i64| start_ms < t + 45 * 60_000 && *t < start_ms + 45 * 60_000);
        // Past times, times already taken, and (as the calendar turns) dates beyond the 120-day
        // booking horizon are refused with alternatives instead of proposed.
        let beyond_horizon = expected.as_millisecond() > d.app.db.now_ms() + 119 * 86_400_000;
        if expected <= jiff::Timestamp::now() || overlaps || beyond_horizon {
            assert!(proposal.starts_with("Sorry, that time isn't available"), "{phrase}: {proposal}");
            continue;
        }
        let want = expected.to_zoned(tz.clone()).strftime("%A %-d %B at %H:%M").to_string();
        assert!(proposal.contains(&want), "{phrase}: expected a proposal for {want}, got {proposal:?}");
        assert_eq!(d.bookings().await.iter().filter(|b| b["status"] == "confirmed").count(), booked, "{phrase}: booked before confirming");
        let done = d.say("yes").await;
        assert!(done.starts_with("Done!"), "{phrase}: {done}");
        booked += 1;
        taken.insert(start_ms);
        let bookings = d.bookings().await;
        assert!(bookings.iter().any(|b| b["start"] == expected.to_string()), "{phrase}: no booking at {expected}");
    }
    assert!(booked >= 20, "only {booked} phrasings booked");
}

}
