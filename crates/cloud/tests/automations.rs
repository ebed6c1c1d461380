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
        self.app.all_items(&format!("/v1/bookings/{booking}/automations"), &self.owner.access).await
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
        self.app.until(at).await;
    }

    /// The customer texts the business.
    async fn sms(&self, sid: &str, body: &str) {
        self.sms_from(CUSTOMER_PHONE, sid, body).await;
    }

    async fn sms_from(&self, from: &str, sid: &str, body: &str) {
        let params = [("MessageSid", sid), ("From", from), ("To", NUMBER), ("Body", body), ("NumMedia", "0")];
        let (status, _) = post_twilio(&self.app, "/webhooks/twilio", &params, TWILIO_TOKEN).await;
        assert_eq!(status, StatusCode::OK);
        self.app.drain().await;
    }

    /// The last message in the customer's SMS conversation.
    async fn last_sms_line(&self) -> Value {
        let c = self.sms_conversation().await;
        let page = self.app.get(&format!("/v1/conversations/{}/messages?limit=50", c["id"].as_str().unwrap()), &self.owner.access).await;
        page.body["items"].as_array().unwrap().last().unwrap().clone()
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
    // The quiet hours in force when they went out (12:30–13:30) held for every reminder; the
    // ones planned before the change were planned again with it: the 08:15 booking's 2 h
    // reminder, kept out of the old night-time quiet hours, went at 06:15 after all.
    for (_, at) in &sent {
        let local = jiff::Timestamp::from_millisecond(*at).unwrap().to_zoned(tz.clone()).time();
        assert!(!(local >= jiff::civil::time(12, 30, 0, 0) && local < jiff::civil::time(13, 30, 0, 0)), "a reminder at {local}");
    }
    assert_eq!(run(&d.runs(early["id"].as_str().unwrap()).await, "reminder:2h")["due_at"], "2027-05-05T05:15:00Z");
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

    // Reminders turned off: the planned ones are dropped, and nothing goes out when they were due.
    let early = d.book("2027-05-11T09:00").await;
    let early_id = early["id"].as_str().unwrap().to_owned();
    assert_eq!(run(&d.runs(&early_id).await, "reminder:day")["due_at"], "2027-05-10T08:00:00Z", "09:00 BST the day before");
    assert_eq!(d.app.patch("/v1/automations", &d.owner.access, json!({"reminders": false})).await.status, StatusCode::OK);
    let day = run(&d.runs(&early_id).await, "reminder:day").clone();
    assert_eq!((day["status"].as_str(), day["reason"].as_str()), (Some("dropped"), Some("Reminders were turned off.")), "{day}");
    d.until("2027-05-09T15:00:00Z").await;
    assert_eq!(d.automated("reminder:").await, 0, "the 10 May reminder (due 9 May 14:00) did not go");
    // Back on: planned again. In another time zone, quiet hours (21:00–08:00) are its local
    // hours: 09:00 in London is 04:00 in New York, so the reminder moves out of the night.
    assert_eq!(d.app.patch("/v1/automations", &d.owner.access, json!({"reminders": true})).await.status, StatusCode::OK);
    assert_eq!(run(&d.runs(&early_id).await, "reminder:day")["status"], "planned");
    assert_eq!(d.app.patch("/v1/business", &d.owner.access, json!({"timezone": "America/New_York"})).await.status, StatusCode::OK);
    let day = run(&d.runs(&early_id).await, "reminder:day").clone();
    let due: jiff::Timestamp = day["due_at"].as_str().unwrap().parse().unwrap();
    let local = due.to_zoned(jiff::tz::TimeZone::get("America/New_York").unwrap()).time();
    assert!(day["status"] == "planned" && local >= jiff::civil::time(8, 0, 0, 0) && local < jiff::civil::time(21, 0, 0, 0), "{day} ({local} in New York)");
    d.until("2027-05-11T08:00:00Z").await;
    let day = run(&d.runs(&early_id).await, "reminder:day").clone();
    assert_eq!((day["status"].as_str(), day["due_at"].as_str()), (Some("sent"), Some(due.to_string().as_str())), "sent at its new time: {day}");
    // Two in all: this one, and the 10 May booking's, planned again when reminders came back on
    // 23 hours before it (the nearest sensible time).
    assert_eq!(d.automated("reminder:day").await, 2);
}

/// A booking's confirmation and its reminders are planned together (one statement): with three
/// rules, three reminders at their times besides the confirmation; a move re-plans the ones not
/// yet sent and leaves a sent one as it was.
async fn three_reminder_rules_plan_three_reminders_and_a_move_replans_those_not_sent(d: Desk) {
    let rules = json!([{"id": "48h", "minutes_before": 2880}, {"id": "24h", "minutes_before": 1440}, {"id": "2h", "minutes_before": 120}]);
    let r = d.app.patch("/v1/automations", &d.owner.access, json!({"reminder_rules": rules})).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    // Monday 10 May, 15:00 BST (14:00 UTC); the clock is at 3 May 09:00 UTC.
    let booking = d.book("2027-05-10T15:00").await;
    let id = booking["id"].as_str().unwrap().to_owned();
    let planned = |runs: &[Value]| -> Vec<(String, String, String)> {
        let mut v: Vec<_> = runs.iter().map(|r| (r["rule"].as_str().unwrap().to_owned(), r["due_at"].as_str().unwrap().to_owned(), r["status"].as_str().unwrap().to_owned())).collect();
        v.sort();
        v
    };
    let p = |rule: &str, due: &str, status: &str| (rule.to_owned(), due.to_owned(), status.to_owned());
    assert_eq!(planned(&d.runs(&id).await), vec![
        p("confirmation:created", "2027-05-03T09:00:00Z", "planned"),
        p("reminder:24h", "2027-05-09T14:00:00Z", "planned"),
        p("reminder:2h", "2027-05-10T12:00:00Z", "planned"),
        p("reminder:48h", "2027-05-08T14:00:00Z", "planned"),
    ]);
    for r in d.runs(&id).await {
        assert_eq!((r["booking_id"].as_str(), r["customer_id"].as_str(), &r["reason"]), (Some(id.as_str()), Some(d.customer.as_str()), &Value::Null), "{r}");
    }
    // The 48-hour reminder goes out; then the booking moves to Tuesday 11 May, 16:30 BST.
    d.until("2027-05-08T14:00:00Z").await;
    assert_eq!(d.automated("reminder:48h").await, 1);
    d.reschedule(&id, "2027-05-11T16:30").await;
    assert_eq!(planned(&d.runs(&id).await), vec![
        p("confirmation:created", "2027-05-03T09:00:00Z", "sent"),
        p("confirmation:moved", "2027-05-08T14:00:00Z", "planned"),
        p("reminder:24h", "2027-05-10T15:30:00Z", "planned"),
        p("reminder:2h", "2027-05-11T13:30:00Z", "planned"),
        p("reminder:48h", "2027-05-08T14:00:00Z", "sent"),
    ]);
    // Moved again, closer: the 24-hour reminder's time has passed, so the 2-hour one covers it.
    d.reschedule(&id, "2027-05-08T20:00").await;
    let runs = d.runs(&id).await;
    assert_eq!(run(&runs, "reminder:48h")["status"], "sent");
    assert_eq!(run(&runs, "reminder:24h")["status"], "skipped", "{runs:?}");
    assert_eq!(run(&runs, "reminder:2h")["due_at"], "2027-05-08T17:00:00Z");
    assert_eq!(runs.iter().filter(|r| r["kind"] == "reminder").count(), 3, "{runs:?}");
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

on_both_engines! {

spawn = desk;

async fn replies_confirm_cancel_move_or_reach_a_person(d: Desk) {
    // A is tomorrow at 15:00 BST; its 24 h reminder goes at 15:00 today.
    let a = d.book("2027-05-04T15:00").await;
    let a_id = a["id"].as_str().unwrap().to_owned();
    d.until("2027-05-03T14:00:00Z").await;
    let reminder = d.last_sms_line().await;
    assert_eq!(reminder["automation"], "reminder:24h", "{reminder}");
    assert!(reminder["body"].as_str().unwrap().ends_with("Reply C to confirm, R to reschedule or X to cancel."));
    d.sms("SMc1", "C").await;
    assert_eq!(d.booking(&a_id).await["confirmation"], "confirmed");
    let answer = d.last_sms_line().await;
    assert_eq!(answer["body"], "Thanks Nia, you're confirmed for Tuesday 4 May at 15:00. See you then!");
    assert_eq!(answer["automation"], "reply:confirmed");
    // B, the day after: its reminder, answered X — cancelled through the booking rules, and the
    // cancellation's confirmation says so. X never opts anyone out.
    let b = d.book("2027-05-05T15:00").await;
    let b_id = b["id"].as_str().unwrap().to_owned();
    d.until("2027-05-04T14:00:00Z").await;
    assert_eq!(d.last_sms_line().await["automation"], "reminder:24h");
    assert_eq!(d.app.all_items("/v1/bookings/unconfirmed", &d.owner.access).await.len(), 0, "A is confirmed");
    d.sms("SMx1", "X").await;
    let b_now = d.booking(&b_id).await;
    assert_eq!((b_now["status"].as_str(), b_now["cancel_reason"].as_str()), (Some("cancelled"), Some("The customer replied to the reminder to cancel.")));
    assert!(d.last_sms_line().await["body"].as_str().unwrap().contains("on Wednesday 5 May at 15:00 is cancelled"));
    let customer = d.app.get(&format!("/v1/customers/{}", d.customer), &d.owner.access).await;
    assert_eq!(customer.body["opted_out_sms"], false);
    // C, whose reminder is answered after staff cancelled it (no confirmation sent): told so.
    d.app.patch("/v1/automations", &d.owner.access, json!({"confirmations": false})).await;
    let c = d.book("2027-05-06T15:00").await;
    d.until("2027-05-05T14:00:00Z").await;
    d.cancel(c["id"].as_str().unwrap()).await;
    d.sms("SMc2", "C").await;
    assert_eq!(d.last_sms_line().await["body"], "Your Haircut on Thursday 6 May at 15:00 was cancelled, so there is nothing to confirm. Reply here to book another time.");
    // D: unconfirmed within two hours shows in the list; a reply after it started confirms nothing.
    let e = d.book("2027-05-07T10:00").await;
    let e_id = e["id"].as_str().unwrap().to_owned();
    d.until("2027-05-07T08:00:00Z").await;
    let soon = d.app.get("/v1/bookings/unconfirmed", &d.owner.access).await;
    assert_eq!(soon.body["items"].as_array().unwrap().iter().map(|b| b["id"].as_str().unwrap()).collect::<Vec<_>>(), vec![e_id.as_str()]);
    d.until("2027-05-07T09:10:00Z").await;
    d.sms("SMc3", "C").await;
    assert_eq!(d.booking(&e_id).await["confirmation"], "unconfirmed", "too late to confirm");
    assert_eq!(d.sms_conversation().await["mode"], "needs_human", "a person sees it instead");
    // A, confirmed and then cancelled, asked to be confirmed again (what it already carries):
    // answered as it is, cancelled, with no new version (it was a success that bumped the
    // version under every other desk). A notes edit sent with the whole booking still works.
    d.cancel(&a_id).await;
    let cancelled = d.booking(&a_id).await;
    let r = d.app.patch(&format!("/v1/bookings/{a_id}"), &d.owner.access, json!({"expected_version": cancelled["version"], "confirmation": "confirmed"})).await;
    assert_eq!((r.status, r.body["status"].as_str(), &r.body["version"]), (StatusCode::OK, Some("cancelled"), &cancelled["version"]), "{r:?}");
    assert_eq!(d.booking(&a_id).await, cancelled);
    let r = d.app.patch(&format!("/v1/bookings/{a_id}"), &d.owner.access, json!({"expected_version": cancelled["version"], "confirmation": "confirmed", "notes": "Called to say sorry"})).await;
    assert_eq!((r.status, r.body["notes"].as_str()), (StatusCode::OK, Some("Called to say sorry")), "{r:?}");
}

async fn move_goes_to_the_assistant_or_a_person_and_unclear_goes_to_a_person(d: Desk) {
    let a = d.book("2027-05-04T15:00").await;
    d.until("2027-05-03T14:00:00Z").await;
    // The assistant is off (connect_twilio turned it off): R waits for a person.
    d.sms("SMr1", "R").await;
    let conversation = d.sms_conversation().await;
    assert_eq!(conversation["mode"], "needs_human");
    // Back to the assistant, another reminder, R again: the assistant asks for the new time.
    let id = conversation["id"].as_str().unwrap().to_owned();
    d.app.patch("/v1/assistant", &d.owner.access, json!({"enabled": true})).await;
    d.app.post(&format!("/v1/conversations/{id}/takeover"), &d.owner.access, json!({})).await;
    d.app.post(&format!("/v1/conversations/{id}/handback"), &d.owner.access, json!({})).await;
    assert_eq!(d.sms_conversation().await["mode"], "ai");
    d.until("2027-05-04T12:00:00Z").await;
    assert_eq!(d.last_sms_line().await["automation"], "reminder:2h");
    d.sms("SMr2", "R").await;
    let answer = d.last_sms_line().await;
    assert_eq!(answer["author_kind"], "assistant");
    assert!(answer["body"].as_str().unwrap().contains("move your Haircut"), "{answer}");
    assert_eq!(d.booking(a["id"].as_str().unwrap()).await["status"], "confirmed", "nothing moved yet");
    // Another booking's reminder answered with something unclear: a person.
    d.book("2027-05-06T15:00").await;
    d.until("2027-05-05T14:00:00Z").await;
    d.sms("SMu1", "is there parking nearby?").await;
    assert_eq!(d.sms_conversation().await["mode"], "needs_human");
}

async fn stop_after_a_reminder_ends_every_automated_message_on_every_channel(d: Desk) {
    connect_whatsapp(&d.app, &d.owner, PHONE_ID, &app_secret(&d.owner)).await;
    d.app.patch(&format!("/v1/customers/{}", d.customer), &d.owner.access, json!({"whatsapp_id": "14155550196"})).await;
    let a = d.book("2027-05-04T15:00").await;
    d.until("2027-05-03T14:00:00Z").await;
    let sent_before = d.fake.sends().len();
    d.sms("SMstop", "STOP").await;
    let customer = d.app.get(&format!("/v1/customers/{}", d.customer), &d.owner.access).await;
    assert_eq!((customer.body["opted_out_sms"].as_bool(), customer.body["opted_out_whatsapp"].as_bool()), (Some(true), Some(false)));
    // The 2 h reminder, a new booking's confirmation: not sent, on SMS or WhatsApp.
    d.book("2027-05-10T15:00").await;
    d.until("2027-05-04T13:00:00Z").await;
    assert_eq!(d.fake.sends().len(), sent_before, "{:?}", d.fake.sends());
    let runs = d.runs(a["id"].as_str().unwrap()).await;
    let two = run(&runs, "reminder:2h");
    assert_eq!(two["status"], "skipped");
    assert!(two["reason"].as_str().unwrap().contains("opted out"), "{two}");
}

}

on_both_engines! {

spawn = |e| async move {
    let (app, fake) = spawn_with_fakes(e, |_| {}).await;
    app.clock.as_ref().unwrap().set("2027-05-03T09:00:00Z".parse().unwrap());
    (app, fake)
};

async fn whatsapp_outside_the_window_needs_a_template((app, fake): (TestApp, FakeProviders)) {
    let owner = app.signup("wa").await;
    app.patch("/v1/schedule", &owner.access, json!({"opening_hours": every_day("07:00", "22:00")})).await;
    let service = app.post("/v1/services", &owner.access, json!({"name": "Massage", "duration_minutes": 60})).await.body["id"].clone();
    connect_whatsapp(&app, &owner, PHONE_ID, &app_secret(&owner)).await;
    let customer = app.post("/v1/customers", &owner.access, json!({"name": "Ola", "whatsapp_id": "447911123499"})).await.body["id"].clone();
    let booked = app.post("/v1/bookings", &owner.access, json!({"customer_id": customer, "service_id": service, "start": "2027-05-04T15:00"})).await.body;
    app.drain().await;
    let runs = app.get(&format!("/v1/bookings/{}/automations", booked["id"].as_str().unwrap()), &owner.access).await.body;
    let confirmation = run(runs["items"].as_array().unwrap(), "confirmation:created");
    assert_eq!(confirmation["status"], "skipped");
    assert_eq!(confirmation["reason"], "WhatsApp's 24-hour window is closed and no approved template is set for confirmation messages (Settings → Automations).");
    assert!(fake.sends().is_empty());
    // With an approved template mapped, the reminder goes as that template.
    app.post("/v1/whatsapp-templates", &owner.access, json!({"name": "appointment_reminder", "language": "en_GB", "body": "Hi {{1}}, see you {{2}} at {{3}}."})).await;
    let mapping = json!({"reminder": {"template_name": "appointment_reminder", "language": "en_GB", "variables": ["customer_name", "date", "time"]}});
    let r = app.patch("/v1/automations", &owner.access, json!({"whatsapp_templates": mapping})).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    app.advance(Duration::from_secs(5 * 3600));
    app.drain().await;
    let sends = fake.sends();
    assert_eq!(sends.len(), 1, "{sends:?}");
    let template = &sends[0].body["template"];
    assert_eq!(template["name"], "appointment_reminder");
    assert_eq!(template["components"][0]["parameters"][1]["text"], "Tuesday 4 May");
    let runs = app.get(&format!("/v1/bookings/{}/automations", booked["id"].as_str().unwrap()), &owner.access).await.body;
    assert_eq!(run(runs["items"].as_array().unwrap(), "reminder:24h")["status"], "sent");
}

/// Point 3, buttons: a reminder template with quick-reply buttons carries the codes C, R, X as the
/// buttons' payloads; a tap (Meta's `button` message) confirms or cancels exactly as the typed code,
/// and a "Cancel" button never opts anyone out. Inside the 24-hour window the reminder carries
/// reply buttons of its own (an interactive message), and their taps work the same.
async fn quick_reply_buttons_confirm_and_cancel_as_the_typed_codes((app, fake): (TestApp, FakeProviders)) {
    let owner = app.signup("wab").await;
    app.patch("/v1/schedule", &owner.access, json!({"opening_hours": every_day("07:00", "22:00")})).await;
    let service = app.post("/v1/services", &owner.access, json!({"name": "Massage", "duration_minutes": 60})).await.body["id"].clone();
    connect_whatsapp(&app, &owner, PHONE_ID, &app_secret(&owner)).await;
    app.post("/v1/whatsapp-templates", &owner.access, json!({"name": "appointment_reminder", "language": "en_GB", "body": "Hi {{1}}, see you {{2}} at {{3}}."})).await;
    let mapping = json!({"reminder": {"template_name": "appointment_reminder", "language": "en_GB", "variables": ["customer_name", "date", "time"],
        "quick_replies": ["confirm", "reschedule", "cancel"]}});
    let r = app.patch("/v1/automations", &owner.access, json!({"whatsapp_templates": mapping, "reminder_rules": [{"id": "24h", "minutes_before": 1440}]})).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["whatsapp_templates"]["reminder"]["quick_replies"], json!(["confirm", "reschedule", "cancel"]));
    let bad = app.patch("/v1/automations", &owner.access, json!({"whatsapp_templates": {"reminder": {"template_name": "appointment_reminder", "language": "en_GB", "variables": [], "quick_replies": ["maybe"]}}})).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}");
    let wa = "447911123400";
    let customer = app.post("/v1/customers", &owner.access, json!({"name": "Ola", "whatsapp_id": wa})).await.body["id"].as_str().unwrap().to_owned();
    let book = |start: &'static str| {
        let (app, owner, customer, service) = (&app, &owner, customer.clone(), service.clone());
        async move { app.post("/v1/bookings", &owner.access, json!({"customer_id": customer, "service_id": service, "start": start})).await.body["id"].as_str().unwrap().to_owned() }
    };
    let first = book("2027-05-04T15:00").await;
    let second = book("2027-05-05T15:00").await;
    let tap = |id: &'static str, payload: &'static str, title: &'static str| {
        let message = json!({"from": wa, "id": id, "timestamp": "1809334800", "type": "button", "context": {"from": "447911000000", "id": "wamid.reminder"},
            "button": {"payload": payload, "text": title}});
        notification(PHONE_ID, json!([{"wa_id": wa, "profile": {"name": "Ola"}}]), json!([message]), Value::Null)
    };
    let booking = |id: String| {
        let (app, owner) = (&app, &owner);
        async move { app.get(&format!("/v1/bookings/{id}"), &owner.access).await.body }
    };

    // The day before at 15:00 local (14:00 UTC): the reminder goes as the template, its buttons carrying the codes.
    app.advance(Duration::from_secs(5 * 3600));
    app.drain().await;
    let sends = fake.sends();
    assert_eq!(sends.len(), 1, "{sends:?}");
    let components = &sends[0].body["template"]["components"];
    assert_eq!(components[0]["type"], "body");
    let buttons: Vec<(String, String, String)> = components.as_array().unwrap()[1..]
        .iter()
        .map(|c| (c["sub_type"].as_str().unwrap().to_owned(), c["index"].as_str().unwrap().to_owned(), c["parameters"][0]["payload"].as_str().unwrap().to_owned()))
        .collect();
    let quick = |i: &str, p: &str| ("quick_reply".to_owned(), i.to_owned(), p.to_owned());
    assert_eq!(buttons, vec![quick("0", "C"), quick("1", "R"), quick("2", "X")]);
    assert_eq!(booking(first.clone()).await["confirmation"], "unconfirmed");

    // Tapping "Confirm" confirms, as "C" would, and the answer goes out.
    let (status, _) = post_whatsapp_signed(&app, &tap("wamid.tap1", "C", "Confirm"), &app_secret(&owner)).await;
    assert_eq!(status, StatusCode::OK);
    app.drain().await;
    assert_eq!(booking(first.clone()).await["confirmation"], "confirmed");
    let last = fake.sends().last().unwrap().body.clone();
    assert!(last["text"]["body"].as_str().unwrap().starts_with("Thanks Ola, you're confirmed"), "{last}");

    // The next day's reminder, the window closed again: a tapped "Cancel" (Meta sends the button's
    // text as its payload when the template set none) cancels it, as "X" would — and opts nobody out.
    app.advance(Duration::from_secs(24 * 3600 + 60));
    app.drain().await;
    assert_eq!(fake.sends().last().unwrap().body["type"], "template");
    post_whatsapp_signed(&app, &tap("wamid.tap2", "Cancel", "Cancel"), &app_secret(&owner)).await;
    app.drain().await;
    let cancelled = booking(second.clone()).await;
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");
    let who = app.get(&format!("/v1/customers/{customer}"), &owner.access).await.body;
    assert_eq!((who["opted_out_whatsapp"].as_bool(), who["opted_out_sms"].as_bool()), (Some(false), Some(false)), "{who}");
    let last = fake.sends().last().unwrap().body.clone();
    assert!(last["text"]["body"].as_str().unwrap().contains("is cancelled"), "the cancellation's confirmation: {last}");
    // The tap shows in the conversation as what the customer saw.
    let all = messages_of(&app, &owner).await;
    assert!(all.iter().any(|m| m["direction"] == "inbound" && m["body"] == "Cancel" && m["kind"] == "reply"), "{all:?}");

    // Inside the 24-hour window no template is needed: the reminder goes as a message with reply
    // buttons whose ids are the codes, and tapping "Confirm" confirms as "C" would.
    let third = book("2027-05-06T15:00").await;
    app.advance(Duration::from_secs(23 * 3600));
    let hello = json!({"from": wa, "id": "wamid.hello", "timestamp": "1809334800", "type": "text", "text": {"body": "Looking forward to it"}});
    let (status, _) = post_whatsapp_signed(&app, &notification(PHONE_ID, json!([{"wa_id": wa, "profile": {"name": "Ola"}}]), json!([hello]), Value::Null), &app_secret(&owner)).await;
    assert_eq!(status, StatusCode::OK);
    app.drain().await;
    let before = fake.sends().len();
    app.advance(Duration::from_secs(3600));
    app.drain().await;
    let sent = fake.sends();
    assert_eq!(sent.len(), before + 1, "one reminder: {:?}", &sent[before..]);
    let reminder = &sent[before].body;
    assert_eq!((reminder["type"].as_str(), reminder["interactive"]["type"].as_str()), (Some("interactive"), Some("button")), "{reminder}");
    assert!(!reminder["interactive"]["body"]["text"].as_str().unwrap().is_empty(), "{reminder}");
    let buttons: Vec<(&str, &str)> =
        reminder["interactive"]["action"]["buttons"].as_array().unwrap().iter().map(|b| (b["reply"]["id"].as_str().unwrap(), b["reply"]["title"].as_str().unwrap())).collect();
    assert_eq!(buttons, vec![("C", "Confirm"), ("R", "Change the time"), ("X", "Cancel booking")]);
    assert_eq!(booking(third.clone()).await["confirmation"], "unconfirmed");
    let tap = json!({"from": wa, "id": "wamid.tap3", "timestamp": "1809334800", "type": "interactive", "context": {"from": "447911000000", "id": "wamid.reminder3"},
        "interactive": {"type": "button_reply", "button_reply": {"id": "C", "title": "Confirm"}}});
    let (status, _) = post_whatsapp_signed(&app, &notification(PHONE_ID, json!([{"wa_id": wa, "profile": {"name": "Ola"}}]), json!([tap]), Value::Null), &app_secret(&owner)).await;
    assert_eq!(status, StatusCode::OK);
    app.drain().await;
    assert_eq!(booking(third).await["confirmation"], "confirmed");
}

}

on_both_engines! {

spawn = desk;

async fn a_missed_call_gets_one_text_back_per_twelve_hours(d: Desk) {
    let call = |sid: &'static str, status: &'static str| [("CallSid", sid), ("CallStatus", status), ("From", "+14155550177"), ("To", NUMBER), ("Direction", "inbound")];
    // Unsigned or wrongly signed: refused, nothing stored.
    let (status, _) = post_twilio(&d.app, "/webhooks/twilio/voice-status", &call("CA1", "no-answer"), "not-the-token").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // An answered call is no missed call.
    post_twilio(&d.app, "/webhooks/twilio/voice-status", &call("CA0", "completed"), TWILIO_TOKEN).await;
    d.app.drain().await;
    assert!(d.fake.sends().is_empty());
    post_twilio(&d.app, "/webhooks/twilio/voice-status", &call("CA1", "no-answer"), TWILIO_TOKEN).await;
    post_twilio(&d.app, "/webhooks/twilio/voice-status", &call("CA1", "no-answer"), TWILIO_TOKEN).await;
    d.app.drain().await;
    let sends = d.fake.sends();
    assert_eq!(sends.len(), 1, "{sends:?}");
    assert_eq!(sends[0].body["To"], "+14155550177");
    assert_eq!(sends[0].body["Body"], "Sorry we missed your call at auto Studio! Reply here and we'll help you book.");
    let inbox = d.app.get("/v1/conversations?channel=sms", &d.owner.access).await;
    assert_eq!(inbox.body["items"][0]["mode"], "ai", "the assistant answers the conversation it opens");
    // Busy an hour later: none. Thirteen hours later: one more.
    d.app.advance(Duration::from_secs(3600));
    post_twilio(&d.app, "/webhooks/twilio/voice-status", &call("CA2", "busy"), TWILIO_TOKEN).await;
    d.app.drain().await;
    assert_eq!(d.fake.sends().len(), 1);
    d.app.advance(Duration::from_secs(12 * 3600));
    post_twilio(&d.app, "/webhooks/twilio/voice-status", &call("CA3", "failed"), TWILIO_TOKEN).await;
    d.app.drain().await;
    assert_eq!(d.fake.sends().len(), 2);
    // A Vapi call that ended without a booking or transfer is missed too; one that was forwarded is not.
    // Connecting a channel needs a recent sign-in, and the clock has moved 12 hours since.
    reauthenticate(&d.app, &d.owner).await;
    let connected = d.app.call(reqwest::Method::PUT, "/v1/channels/vapi", Some(&d.owner.access), Some(json!({"secret": "vapi-secret-1"}))).await;
    assert_eq!(connected.status, StatusCode::OK, "{connected:?}");
    let path = format!("/webhooks/vapi/{}", d.owner.business_id);
    let report = |id: &str, number: &str, reason: &str| json!({"message": {"type": "end-of-call-report", "endedReason": reason, "durationSeconds": 20,
        "call": {"id": id, "type": "inboundPhoneCall", "customer": {"number": number}}}});
    for (body, _) in [(report("v1", "+14155550178", "assistant-forwarded-call"), ()), (report("v2", "+14155550179", "customer-ended-call"), ())] {
        let r = d.app.client.post(format!("{}{path}", d.app.base)).bearer_auth("vapi-secret-1").json(&body).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    d.app.drain().await;
    let to: Vec<String> = d.fake.sends().iter().map(|s| s.body["To"].as_str().unwrap().to_owned()).collect();
    assert_eq!(to, vec!["+14155550177", "+14155550177", "+14155550179"]);
}

/// Point 5, voicemail: a call the business's voicemail took (Twilio's answering-machine verdict
/// `AnsweredBy: machine_*` on a completed call) or a forwarded `<Dial>` nobody picked up
/// (`DialCallStatus`) is missed; a person answering is not. Still one text-back per 12 hours.
async fn a_call_that_hit_voicemail_gets_the_text_back_once_per_twelve_hours(d: Desk) {
    let caller = "+14155550181";
    let report = |sid: &'static str, extra: &[(&'static str, &'static str)]| {
        let mut p = vec![("CallSid", sid), ("CallStatus", "completed"), ("From", caller), ("To", NUMBER), ("Direction", "inbound")];
        p.extend_from_slice(extra);
        p
    };
    // Answered by a person: nothing.
    post_twilio(&d.app, "/webhooks/twilio/voice-status", &report("CV0", &[("AnsweredBy", "human")]), TWILIO_TOKEN).await;
    post_twilio(&d.app, "/webhooks/twilio/voice-status", &report("CV0", &[]), TWILIO_TOKEN).await;
    d.app.drain().await;
    assert!(d.fake.sends().is_empty(), "{:?}", d.fake.sends());
    // Voicemail took it: one text, however often Twilio reports it.
    let (status, _) = post_twilio(&d.app, "/webhooks/twilio/voice-status", &report("CV1", &[("AnsweredBy", "machine_end_beep")]), TWILIO_TOKEN).await;
    assert_eq!(status, StatusCode::OK);
    post_twilio(&d.app, "/webhooks/twilio/voice-status", &report("CV1", &[("AnsweredBy", "machine_end_beep")]), TWILIO_TOKEN).await;
    post_twilio(&d.app, "/webhooks/twilio/voice-status", &report("CV1", &[("AnsweredBy", "machine_start")]), TWILIO_TOKEN).await;
    d.app.drain().await;
    let sends = d.fake.sends();
    assert_eq!(sends.len(), 1, "{sends:?}");
    assert_eq!((sends[0].body["To"].as_str(), sends[0].body["Body"].as_str()), (Some(caller), Some("Sorry we missed your call at auto Studio! Reply here and we'll help you book.")));
    // Voicemail again two hours later: none (the run says why).
    d.app.advance(Duration::from_secs(2 * 3600));
    post_twilio(&d.app, "/webhooks/twilio/voice-status", &report("CV2", &[("AnsweredBy", "machine_end_silence")]), TWILIO_TOKEN).await;
    d.app.drain().await;
    assert_eq!(d.fake.sends().len(), 1);
    let skipped: String = sqlx::query_scalar("SELECT reason FROM automation_runs WHERE business_id = $1 AND dedupe_key = 'text_back:twilio:CV2'")
        .bind(&d.owner.business_id)
        .fetch_one(d.app.db.reader())
        .await
        .unwrap();
    assert!(skipped.contains("12 hours"), "{skipped}");
    // Thirteen hours on, a forwarded call nobody picked up (a `<Dial>`'s outcome): one more.
    d.app.advance(Duration::from_secs(11 * 3600));
    post_twilio(&d.app, "/webhooks/twilio/voice-status", &report("CV3", &[("DialCallStatus", "no-answer")]), TWILIO_TOKEN).await;
    d.app.drain().await;
    assert_eq!(d.fake.sends().len(), 2);
}

}

/// Follow-ups on: an hour after the customer's last message, then two hours after that.
async fn following_up(engine: Engine) -> Desk {
    let d = desk(engine).await;
    let r = d.app.patch("/v1/automations", &d.owner.access, json!({"follow_ups": true, "follow_up_steps": [{"delay_minutes": 60}, {"delay_minutes": 120}]})).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    d.sms("SMf1", "Hi, do you have any availability on Friday?").await;
    d
}

impl Desk {
    async fn follow_ups(&self) -> Vec<Value> {
        let c = self.sms_conversation().await;
        let runs = self.app.get(&format!("/v1/conversations/{}/automations", c["id"].as_str().unwrap()), &self.owner.access).await;
        runs.body["items"].as_array().unwrap().iter().filter(|r| r["kind"] == "follow_up").cloned().collect()
    }

    /// After four hours: the follow-ups' statuses and reasons, and how many were texted.
    async fn after_four_hours(&self) -> (Vec<(String, String)>, usize) {
        self.until("2027-05-03T13:00:00Z").await;
        let runs = self.follow_ups().await;
        let states = runs.iter().map(|r| (r["status"].as_str().unwrap().to_owned(), r["reason"].as_str().unwrap_or("").to_owned())).collect();
        let texted = self.texts().iter().filter(|t| t.contains("would you still like to book")).count();
        (states, texted)
    }
}

fn stopped(why: &str) -> Vec<(String, String)> {
    vec![("stopped".to_owned(), why.to_owned()); 2]
}

on_both_engines! {

spawn = following_up;

async fn a_follow_up_goes_out_when_the_customer_goes_quiet(d: Desk) {
    assert_eq!(d.follow_ups().await.len(), 2);
    let (states, texted) = d.after_four_hours().await;
    assert_eq!(states, vec![("sent".to_owned(), String::new()); 2]);
    assert_eq!(texted, 2);
    assert!(d.texts()[0].starts_with("Hi Nia, would you still like to book at auto Studio?"), "{:?}", d.texts());
}

async fn a_follow_up_stops_when_the_customer_writes(d: Desk) {
    d.app.advance(Duration::from_secs(600));
    d.sms("SMf2", "thanks, I'll let you know").await;
    assert_eq!(d.after_four_hours().await, (stopped("inbound_message"), 0));
}

async fn a_follow_up_stops_when_the_customer_books(d: Desk) {
    d.book("2027-05-07T15:00").await;
    let (states, texted) = d.after_four_hours().await;
    assert_eq!(states, stopped("booking"));
    assert_eq!(texted, 0);
}

async fn a_follow_up_stops_when_the_customer_opts_out(d: Desk) {
    d.sms("SMf3", "STOP").await;
    assert_eq!(d.after_four_hours().await, (stopped("opted_out"), 0));
}

async fn a_follow_up_stops_when_a_person_takes_over(d: Desk) {
    let id = d.sms_conversation().await["id"].as_str().unwrap().to_owned();
    assert_eq!(d.app.post(&format!("/v1/conversations/{id}/takeover"), &d.owner.access, json!({})).await.status, StatusCode::OK);
    assert_eq!(d.after_four_hours().await, (stopped("takeover"), 0));
}

async fn a_follow_up_stops_when_the_conversation_is_resolved(d: Desk) {
    let id = d.sms_conversation().await["id"].as_str().unwrap().to_owned();
    let r = d.app.patch(&format!("/v1/conversations/{id}"), &d.owner.access, json!({"status": "resolved"})).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(d.after_four_hours().await, (stopped("resolved"), 0));
}

}

impl Desk {
    /// Staff mark the booking a no-show (the appointment's time has come).
    async fn mark_no_show(&self, id: &str) -> Value {
        let version = self.booking(id).await["version"].clone();
        let r = self.app.patch(&format!("/v1/bookings/{id}"), &self.owner.access, json!({"expected_version": version, "status": "no_show"})).await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        r.body
    }

    fn rebooking_texts(&self) -> Vec<String> {
        self.texts().into_iter().filter(|t| t.contains("we missed you")).collect()
    }
}

on_both_engines! {

spawn = desk;

/// Point 4: a no-show gets one rebooking message when the business turned the rule on (it is off
/// by default), in the business's words, and none for a customer who opted out.
async fn a_no_show_gets_one_rebooking_message_when_the_rule_is_on(d: Desk) {
    let settings = d.app.get("/v1/automations", &d.owner.access).await;
    assert_eq!(settings.body["no_show_rebooking"], false, "off by default: {settings:?}");
    assert!(settings.body["texts"]["no_show"].as_str().unwrap().contains("{customer_name}"), "{settings:?}");
    // Off: marking a no-show sends nothing and plans nothing.
    let first = d.book("2027-05-03T12:00").await["id"].as_str().unwrap().to_owned();
    d.until("2027-05-03T11:30:00Z").await;
    d.mark_no_show(&first).await;
    d.until("2027-05-03T11:45:00Z").await;
    assert!(d.rebooking_texts().is_empty(), "{:?}", d.texts());
    assert!(d.runs(&first).await.iter().all(|r| r["kind"] != "no_show"));

    // On, with the business's own words (a text with an unknown variable is refused first).
    let bad = d.app.patch("/v1/automations", &d.owner.access, json!({"no_show_rebooking": true, "texts": {"no_show": "Hi {nickname}"}})).await;
    assert_eq!((bad.status, bad.body["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed")), "{bad:?}");
    assert_eq!(d.app.get("/v1/automations", &d.owner.access).await.body["no_show_rebooking"], false, "a refused change changes nothing");
    let text = "Hi {customer_name}, we missed you for your {service} on {date}. Reply here to book again.";
    let r = d.app.patch("/v1/automations", &d.owner.access, json!({"no_show_rebooking": true, "texts": {"no_show": text}})).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["texts"]["reminder"], settings.body["texts"]["reminder"], "the other texts keep their defaults");
    let preview = d.app.post("/v1/automations/preview", &d.owner.access, json!({"text": text, "booking_id": first})).await;
    assert_eq!(preview.body["body"], "Hi Nia, we missed you for your Haircut on Monday 3 May. Reply here to book again.", "{preview:?}");

    let second = d.book("2027-05-03T15:00").await["id"].as_str().unwrap().to_owned();
    d.until("2027-05-03T14:15:00Z").await;
    let marked = d.mark_no_show(&second).await;
    assert_eq!(marked["status"], "no_show");
    d.until("2027-05-03T14:30:00Z").await;
    assert_eq!(d.rebooking_texts(), vec![preview.body["body"].as_str().unwrap().to_owned()]);
    let sent = run(&d.runs(&second).await, "no_show").clone();
    assert_eq!((sent["kind"].as_str(), sent["status"].as_str()), (Some("no_show"), Some("sent")), "{sent}");
    assert_eq!(d.automated("no_show").await, 1, "in the timeline with its rule");
    // Marking it again (the same state) sends nothing more; the lifecycle ends there.
    let again = d.booking(&second).await;
    let r = d.app.patch(&format!("/v1/bookings/{second}"), &d.owner.access, json!({"expected_version": again["version"], "status": "no_show"})).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    d.until("2027-05-03T14:45:00Z").await;
    assert_eq!(d.rebooking_texts().len(), 1);

    // Opted out: not sent, and the run says why.
    d.sms("SMns1", "STOP").await;
    let third = d.book("2027-05-04T10:00").await["id"].as_str().unwrap().to_owned();
    d.until("2027-05-04T09:15:00Z").await;
    d.mark_no_show(&third).await;
    d.until("2027-05-04T09:30:00Z").await;
    assert_eq!(d.rebooking_texts().len(), 1);
    let skipped = run(&d.runs(&third).await, "no_show").clone();
    assert_eq!(skipped["status"], "skipped", "{skipped}");
    assert!(skipped["reason"].as_str().unwrap().contains("opted out"), "{skipped}");
}

/// Two instances on one database (on PostgreSQL, the production shape), both running every
/// worker at once on the same clock: each reminder still goes out once.
async fn two_instances_send_each_reminder_once(d: Desk) {
    let second = d.app.another_instance(|_| {}).await;
    let mut ids = Vec::new();
    for day in 4..=8 {
        ids.push(d.book(&format!("2027-05-0{day}T15:00")).await["id"].as_str().unwrap().to_owned());
    }
    let end = "2027-05-09T00:00:00Z".parse::<jiff::Timestamp>().unwrap().as_millisecond();
    while d.app.now_ms() < end {
        let (a, b) = (switchboard_cloud::workers::drain(&d.app.core), switchboard_cloud::workers::drain(&second.core));
        let (a, b) = tokio::join!(a, b);
        a.unwrap();
        b.unwrap();
        d.app.advance(Duration::from_secs(30 * 60));
    }
    assert_eq!(d.automated("reminder:").await, 10, "two per booking");
    assert_eq!(d.automated("confirmation:").await, 5);
    let reminders = d.texts().iter().filter(|t| t.contains("a reminder of")).count();
    assert_eq!(reminders, 10, "{:?}", d.texts());
    for id in &ids {
        assert_eq!(d.runs(id).await.iter().filter(|r| r["status"] == "sent").count(), 3, "a confirmation and two reminders");
    }
}

}

/// Point 8: the demo business has reminders on; shortly after it starts, a reminder reaches its
/// WhatsApp customer and the demo traffic answers "C" through the real webhook: the booking is
/// confirmed and the answer goes out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_shows_a_reminder_confirmed_by_reply() {
    use switchboard_testkit::demo::{DemoService, OWNER};
    let service = DemoService::start(Engine::Sqlite).await;
    let owner = service.token(OWNER).await;
    let settings = service.get("/v1/automations", &owner).await;
    assert_eq!(settings["reminders"], true, "{settings}");
    let sessions = || async { sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM sessions").fetch_one(service.app.db.reader()).await.unwrap() };
    let before = sessions().await;
    let answered = switchboard_cloud::sandbox::answer_demo_reminder(service.url(), &service.app_secret, Duration::from_secs(45)).await;
    assert!(answered, "the demo's reminder went out and was answered");
    // It signed in as the demo owner once, not on each look: the person trying the demo (who
    // signs in as that owner) is not locked out by the sign-in limit meanwhile.
    assert_eq!(sessions().await - before, 1, "one sign-in");
    let conversation = service.conversation_of(&owner, switchboard_cloud::demo::REMINDED_WHATSAPP_ID).await;
    let runs = || async { service.get(&format!("/v1/conversations/{conversation}/automations"), &owner).await };
    let messages = || async { service.get(&format!("/v1/conversations/{conversation}/messages?limit=200"), &owner).await };
    switchboard_testkit::eventually("the reply is answered", || async { messages().await.to_string().contains("\"reply:confirmed\"") }).await;
    let runs = runs().await;
    let reminder = runs["items"].as_array().unwrap().iter().find(|r| r["kind"] == "reminder" && r["status"] == "sent").unwrap_or_else(|| panic!("{runs}")).clone();
    let booking = service.get(&format!("/v1/bookings/{}", reminder["booking_id"].as_str().unwrap()), &owner).await;
    assert_eq!(booking["confirmation"], "confirmed", "{booking}");
    let messages = messages().await;
    let lines: Vec<(String, String)> = messages["items"].as_array().unwrap().iter()
        .map(|m| (m["direction"].as_str().unwrap_or("").to_owned(), m["automation"].as_str().unwrap_or(m["body"].as_str().unwrap_or("")).to_owned()))
        .collect();
    let at = |what: (&str, &str)| lines.iter().position(|(d, a)| d == what.0 && (a == what.1 || a.starts_with(what.1))).unwrap_or_else(|| panic!("no {what:?} in {lines:?}"));
    assert!(at(("outbound", "reminder:")) < at(("inbound", "C")) && at(("inbound", "C")) < at(("outbound", "reply:confirmed")), "{lines:?}");
}
