//! After the booking, on SQLite and PostgreSQL, with the real service on a test clock and local
//! fake WhatsApp and Twilio APIs: confirmations once per change whoever changes the booking,
//! reminders (one per rule per booking across reschedules and cancel-and-rebook, at the right local
//! time across daylight-saving changes, never in quiet hours), replies C/R/X, STOP across
//! channels, missed-call text-backs and follow-ups with their stop reasons.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use switchboard_testkit::fakes::{FakeProviders, TWILIO_TOKEN};
use switchboard_testkit::whatsapp::*;
use switchboard_testkit::{every_day, on_both_engines, Engine, Tenant, TestApp};

const NUMBER: &str = "+14155550100";
const CUSTOMER_PHONE: &str = "+14155550196";

struct Desk {
    app: TestApp,
    fake: FakeProviders,
    owner: Tenant,
    service: String,
    customer: String,
}

/// A business in `zone` with SMS through Twilio, a 45-minute service, one customer with a phone
/// number, and the clock at `now` (UTC).
async fn desk_in(engine: Engine, zone: &str, now: &str) -> Desk {
    let (app, fake) = spawn_with_fakes(engine, |_| {}).await;
    app.clock.as_ref().unwrap().set(now.parse().unwrap());
    let owner = app.signup("auto").await;
    app.patch("/v1/business", &owner.access, json!({"timezone": zone})).await;
    app.patch("/v1/schedule", &owner.access, json!({"opening_hours": every_day("07:00", "22:00"), "slot_interval_minutes": 15})).await;
    let service = app.post("/v1/services", &owner.access, json!({"name": "Haircut", "duration_minutes": 45, "price_cents": 3500})).await;
    assert_eq!(connect_twilio(&app, &owner, NUMBER).await.status, StatusCode::OK);
    let customer = app.post("/v1/customers", &owner.access, json!({"name": "Nia Jones", "phone": CUSTOMER_PHONE})).await;
    assert_eq!(customer.status, StatusCode::CREATED, "{customer:?}");
    Desk {
        service: service.body["id"].as_str().unwrap().to_owned(),
        customer: customer.body["id"].as_str().unwrap().to_owned(),
        app,
        fake,
        owner,
    }
}

async fn desk(engine: Engine) -> Desk {
    desk_in(engine, "Europe/London", "2027-05-03T09:00:00Z").await
}

impl Desk {
    async fn book(&self, start: &str) -> Value {
        let r = self.app.post("/v1/bookings", &self.owner.access, json!({"customer_id": self.customer, "service_id": self.service, "start": start})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
        r.body
    }

    async fn booking(&self, id: &str) -> Value {
        self.app.get(&format!("/v1/bookings/{id}"), &self.owner.access).await.body
    }

    async fn reschedule(&self, id: &str, start: &str) -> Value {
        let version = self.booking(id).await["version"].clone();
        let r = self.app.patch(&format!("/v1/bookings/{id}"), &self.owner.access, json!({"expected_version": version, "start": start})).await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        r.body
    }

    async fn cancel(&self, id: &str) {
        let r = self.app.delete(&format!("/v1/bookings/{id}"), &self.owner.access).await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
    }

    async fn runs(&self, booking: &str) -> Vec<Value> {
        let r = self.app.get(&format!("/v1/bookings/{booking}/automations"), &self.owner.access).await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        r.body.as_array().unwrap().clone()
    }

    /// Texts the fake Twilio was asked to send, in order.
    fn texts(&self) -> Vec<String> {
        self.fake.sends().iter().map(|s| s.body["Body"].as_str().unwrap_or("").to_owned()).collect()
    }

    /// Automated messages stored, by rule.
    async fn automated(&self, rule_prefix: &str) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM messages WHERE business_id = $1 AND automation LIKE $2")
            .bind(&self.owner.business_id)
            .bind(format!("{rule_prefix}%"))
            .fetch_one(self.app.db.reader())
            .await
            .unwrap()
    }

    /// Moves the clock to `at` (UTC), stopping at every planned run's time and running the
    /// workers there.
    async fn until(&self, at: &str) {
        let at = at.parse::<jiff::Timestamp>().unwrap().as_millisecond();
        loop {
            self.app.drain().await;
            let now = self.app.now_ms();
            if now >= at {
                break;
            }
            let next: Option<i64> = sqlx::query_scalar("SELECT MIN(due_at) FROM automation_runs WHERE status = 'planned' AND due_at > $1")
                .bind(now)
                .fetch_one(self.app.db.reader())
                .await
                .unwrap();
            let to = next.unwrap_or(at).min(at);
            self.app.advance(Duration::from_millis((to - now) as u64));
        }
        self.app.drain().await;
    }

    /// The customer texts the business.
    async fn sms(&self, sid: &str, body: &str) {
        let params = [("MessageSid", sid), ("From", CUSTOMER_PHONE), ("To", NUMBER), ("Body", body), ("NumMedia", "0")];
        let (status, _) = post_twilio(&self.app, "/webhooks/twilio", &params, TWILIO_TOKEN).await;
        assert_eq!(status, StatusCode::OK);
        self.app.drain().await;
    }

    async fn sms_conversation(&self) -> Value {
        let inbox = self.app.get("/v1/conversations?channel=sms", &self.owner.access).await;
        inbox.body["items"][0].clone()
    }
}

fn run<'a>(runs: &'a [Value], rule: &str) -> &'a Value {
    runs.iter().find(|r| r["rule"] == rule).unwrap_or_else(|| panic!("no {rule} in {runs:?}"))
}

on_both_engines! {

spawn = desk;

async fn a_confirmation_goes_out_once_per_change_whoever_makes_it(d: Desk) {
    // Through the API: booked, moved, cancelled.
    let booking = d.book("2027-05-10T15:00").await;
    let id = booking["id"].as_str().unwrap().to_owned();
    d.app.drain().await;
    d.app.drain().await;
    let texts = d.texts();
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(texts[0].starts_with("Hi Nia, you're booked at auto Studio: Haircut with auto Owner on Monday 10 May at 15:00."), "{}", texts[0]);
    assert!(texts[0].contains("reply here"), "how to change it: {}", texts[0]);
    assert_eq!(d.fake.sends()[0].body["To"], CUSTOMER_PHONE, "a customer with only a phone number gets an SMS");
    d.reschedule(&id, "2027-05-11T16:30").await;
    // A note is not a change the customer hears about.
    let version = d.booking(&id).await["version"].clone();
    d.app.patch(&format!("/v1/bookings/{id}"), &d.owner.access, json!({"expected_version": version, "notes": "likes tea"})).await;
    d.app.drain().await;
    d.cancel(&id).await;
    d.app.drain().await;
    d.app.drain().await;
    let texts = d.texts();
    assert_eq!(texts.len(), 3, "{texts:?}");
    assert!(texts[1].contains("is now on Tuesday 11 May at 16:30"), "{}", texts[1]);
    assert!(texts[2].contains("on Tuesday 11 May at 16:30 is cancelled"), "{}", texts[2]);
    // Through the console's sync: one more booking, one more confirmation, however often pushed.
    let push = json!({"client_id": "desk-1", "mutations": [{"id": 1, "name": "create_booking", "args": {"booking_id": "0190c0de-0000-7000-8000-000000000001",
        "customer_id": d.customer, "service_id": d.service, "start": "2027-05-12T09:00:00Z"}}]});
    for _ in 0..2 {
        let r = d.app.post("/v1/sync/push", &d.owner.access, push.clone()).await;
        assert_eq!(r.body["outcomes"][0]["ok"], true, "{r:?}");
        d.app.drain().await;
    }
    let texts = d.texts();
    assert_eq!(texts.len(), 4, "{texts:?}");
    assert!(texts[3].contains("Wednesday 12 May at 10:00"), "{}", texts[3]);
    // Every automated send is in the timeline (with its rule) and the audit log.
    let conversation = d.sms_conversation().await;
    let page = d.app.get(&format!("/v1/conversations/{}/messages?limit=50", conversation["id"].as_str().unwrap()), &d.owner.access).await;
    let rules: Vec<&str> = page.body["items"].as_array().unwrap().iter().filter_map(|m| m["automation"].as_str()).collect();
    assert_eq!(rules, vec!["confirmation:created", "confirmation:moved", "confirmation:cancelled", "confirmation:created"]);
    assert!(page.body["items"].as_array().unwrap().iter().all(|m| m["author_kind"] == "system"));
    let audited: i64 = count(&d.app, "SELECT COUNT(*) FROM audit_log WHERE business_id = $1 AND action = 'automation.sent'", &d.owner.business_id).await;
    assert_eq!(audited, 4);
}

async fn ten_reschedules_and_a_cancel_and_rebook_get_one_reminder_per_rule(d: Desk) {
    let booking = d.book("2027-05-06T10:00").await;
    let id = booking["id"].as_str().unwrap().to_owned();
    for (i, start) in ["2027-05-06T11:00", "2027-05-06T12:00", "2027-05-07T10:00", "2027-05-07T13:15", "2027-05-08T10:00",
        "2027-05-08T09:30", "2027-05-07T15:00", "2027-05-07T14:00", "2027-05-07T12:00", "2027-05-07T11:00"].iter().enumerate() {
        d.reschedule(&id, start).await;
        if i % 3 == 0 {
            d.app.drain().await;
        }
    }
    // Cancel and rebook the same time: the old booking's reminders are dropped.
    let other = d.book("2027-05-08T16:00").await;
    let other_id = other["id"].as_str().unwrap().to_owned();
    d.cancel(&other_id).await;
    let rebooked = d.book("2027-05-08T16:00").await;
    let rebooked_id = rebooked["id"].as_str().unwrap().to_owned();
    let runs = d.runs(&id).await;
    assert_eq!(run(&runs, "reminder:24h")["due_at"], "2027-05-06T10:00:00Z", "re-planned for 11:00 BST on the 7th: {runs:?}");
    assert_eq!(run(&runs, "reminder:2h")["due_at"], "2027-05-07T08:00:00Z");
    assert!(d.runs(&other_id).await.iter().filter(|r| r["kind"] == "reminder").all(|r| r["status"] == "dropped"));
    // A restart between planning and sending changes nothing.
    let mut app = d.app;
    app.restart().await;
    let d = Desk { app, ..d };
    d.until("2027-05-09T00:00:00Z").await;
    assert_eq!(d.automated("reminder:").await, 4, "two reminders for each of the two bookings that stand");
    for (b, n) in [(&id, 2), (&rebooked_id, 2), (&other_id, 0)] {
        let sent = d.runs(b).await.iter().filter(|r| r["kind"] == "reminder" && r["status"] == "sent").count();
        assert_eq!(sent, n, "{b}");
    }
    let reminders: Vec<String> = d.texts().into_iter().filter(|t| t.contains("a reminder of")).collect();
    assert_eq!(reminders.len(), 4, "{reminders:?}");
    assert!(reminders[0].contains("Friday 7 May at 11:00") && reminders[0].ends_with("Reply C to confirm, R to reschedule or X to cancel."), "{}", reminders[0]);
    d.app.pass(Duration::from_secs(5)).await;
    assert_eq!(d.texts().iter().filter(|t| t.contains("a reminder of")).count(), 4, "nothing more");
}

async fn a_booking_inside_the_window_gets_the_nearest_sensible_reminder_and_none_in_quiet_hours(d: Desk) {
    // Now is 10:00 BST. Booked for 15:00 today: the 24 h reminder is covered by the 2 h one.
    let soon = d.book("2027-05-03T15:00").await;
    let runs = d.runs(soon["id"].as_str().unwrap()).await;
    assert_eq!(run(&runs, "reminder:24h")["status"], "skipped");
    assert!(run(&runs, "reminder:24h")["reason"].as_str().unwrap().contains("2h reminder covers it"), "{runs:?}");
    assert_eq!(run(&runs, "reminder:2h")["due_at"], "2027-05-03T12:00:00Z");
    // Booked for 11:30: half-way, 10:45.
    let sooner = d.book("2027-05-03T11:30").await;
    assert_eq!(run(&d.runs(sooner["id"].as_str().unwrap()).await, "reminder:2h")["due_at"], "2027-05-03T09:45:00Z");
    // 08:15 tomorrow: 2 h before is 06:15, inside quiet hours (21:00–08:00), and 08:00 is too
    // close: the evening before at 20:59.
    let early = d.book("2027-05-05T08:15").await;
    let runs = d.runs(early["id"].as_str().unwrap()).await;
    assert_eq!(run(&runs, "reminder:2h")["due_at"], "2027-05-04T19:59:00Z", "{runs:?}");
    // Quiet hours set to the afternoon: the 15:00 booking's reminder (13:00) moves out of them.
    let r = d.app.patch("/v1/automations", &d.owner.access, json!({"quiet_hours": {"start": "12:30", "end": "13:30"}})).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let late = d.book("2027-05-06T15:00").await;
    assert_eq!(run(&d.runs(late["id"].as_str().unwrap()).await, "reminder:2h")["due_at"], "2027-05-06T12:30:00Z");
    d.until("2027-05-06T16:00:00Z").await;
    let tz = jiff::tz::TimeZone::get("Europe/London").unwrap();
    let sent: Vec<(String, i64)> = sqlx::query_as("SELECT automation, created_at FROM messages WHERE business_id = $1 AND automation LIKE 'reminder:%'")
        .bind(&d.owner.business_id)
        .fetch_all(d.app.db.reader())
        .await
        .unwrap();
    assert_eq!(sent.len(), 6, "{sent:?}");
    for (_, at) in &sent {
        let local = jiff::Timestamp::from_millisecond(*at).unwrap().to_zoned(tz.clone()).time();
        assert!(local >= jiff::civil::time(8, 0, 0, 0) && local < jiff::civil::time(21, 0, 0, 0), "a reminder at {local}");
    }
}

async fn settings_are_for_owners_and_bad_ones_are_refused(d: Desk) {
    let got = d.app.get("/v1/automations", &d.owner.access).await;
    assert_eq!(got.body["reminder_rules"], json!([{"id": "24h", "minutes_before": 1440}, {"id": "2h", "minutes_before": 120}]));
    let agent = d.app.add_staff(&d.owner, "agent").await;
    assert_eq!(d.app.get("/v1/automations", &agent.access).await.status, StatusCode::OK);
    assert_eq!(d.app.patch("/v1/automations", &agent.access, json!({"reminders": false})).await.code(), "forbidden");
    for bad in [
        json!({"reminder_rules": [{"id": "a", "minutes_before": 60}, {"id": "a", "minutes_before": 30}]}),
        json!({"reminder_rules": [{"id": "a", "minutes_before": 0}]}),
        json!({"quiet_hours": {"start": "25:00", "end": "07:00"}}),
        json!({"texts": {"reminder": "Hi {first_name}"}}),
        json!({"colour": "red"}),
    ] {
        let r = d.app.patch("/v1/automations", &d.owner.access, bad.clone()).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {r:?}");
    }
    assert_eq!(d.app.get("/v1/automations", &d.owner.access).await.body, got.body, "nothing changed");
    let texts = json!({"reminder": "See you {date} at {time}, {customer_name}! {reply_codes}"});
    let r = d.app.patch("/v1/automations", &d.owner.access, json!({"texts": texts, "reminder_rules": [{"id": "day", "minutes_before": 1440}]})).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let booking = d.book("2027-05-10T15:00").await;
    let preview = d.app.post("/v1/automations/preview", &d.owner.access, json!({"text": r.body["texts"]["reminder"], "booking_id": booking["id"]})).await;
    assert_eq!(preview.body["body"], "See you Monday 10 May at 15:00, Nia! Reply C to confirm, R to reschedule or X to cancel.");
    let runs = d.runs(booking["id"].as_str().unwrap()).await;
    assert_eq!(runs.iter().filter(|r| r["kind"] == "reminder").count(), 1, "{runs:?}");
}

}

on_both_engines! {

spawn = |e| desk_in(e, "America/New_York", "2027-03-01T17:00:00Z");

async fn reminders_keep_the_local_time_across_new_york_daylight_saving(d: Desk) {
    // Clocks go forward on Sunday 14 March and back on Sunday 7 November 2027.
    let spring = d.book("2027-03-15T09:00").await;
    let fall = d.book("2027-11-08T09:00").await;
    assert_eq!(run(&d.runs(spring["id"].as_str().unwrap()).await, "reminder:24h")["due_at"], "2027-03-14T13:00:00Z", "09:00 EDT");
    assert_eq!(run(&d.runs(fall["id"].as_str().unwrap()).await, "reminder:24h")["due_at"], "2027-11-07T14:00:00Z", "09:00 EST");
    d.until("2027-03-14T12:59:00Z").await;
    assert_eq!(d.automated("reminder:24h").await, 0, "not before 09:00 local");
    d.until("2027-03-14T13:00:00Z").await;
    assert_eq!(d.automated("reminder:24h").await, 1);
    assert!(d.texts().last().unwrap().contains("Monday 15 March at 09:00"), "{:?}", d.texts());
}

}

on_both_engines! {

spawn = |e| desk_in(e, "Europe/London", "2027-03-01T12:00:00Z");

async fn reminders_keep_the_local_time_across_london_daylight_saving(d: Desk) {
    // Clocks go forward on Sunday 28 March and back on Sunday 31 October 2027.
    let spring = d.book("2027-03-29T09:00").await;
    let fall = d.book("2027-11-01T09:00").await;
    assert_eq!(run(&d.runs(spring["id"].as_str().unwrap()).await, "reminder:24h")["due_at"], "2027-03-28T08:00:00Z", "09:00 BST");
    assert_eq!(run(&d.runs(fall["id"].as_str().unwrap()).await, "reminder:24h")["due_at"], "2027-10-31T09:00:00Z", "09:00 GMT");
    assert_eq!(run(&d.runs(spring["id"].as_str().unwrap()).await, "reminder:2h")["due_at"], "2027-03-29T07:00:00Z", "07:00 BST is quiet: 08:00 BST");
}

}
