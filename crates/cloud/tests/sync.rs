//! Pulling the change log, on SQLite and PostgreSQL.

use reqwest::StatusCode;
use serde_json::{json, Value};
use switchboard_testkit::fakes::FakeProviders;
use switchboard_testkit::whatsapp::*;
use switchboard_testkit::{on_both_engines, every_day, TestApp};

async fn pull_all(app: &TestApp, token: &str, from: i64, limit: u32) -> (Vec<Value>, i64) {
    let mut cursor = from;
    let mut all = Vec::new();
    loop {
        let page = app.get(&format!("/v1/sync/pull?cursor={cursor}&limit={limit}"), token).await;
        assert_eq!(page.status, StatusCode::OK, "{page:?}");
        let changes = page.body["changes"].as_array().unwrap().clone();
        assert!(changes.len() <= limit as usize);
        all.extend(changes);
        cursor = page.body["cursor"].as_i64().unwrap();
        if !page.body["has_more"].as_bool().unwrap() {
            return (all, cursor);
        }
    }
}

on_both_engines! {

spawn = TestApp::spawn;

async fn pulling_pages_through_the_log_gives_every_current_state_once(app: TestApp) {
    let a = app.signup("sync-a").await;
    let b = app.signup("sync-b").await;
    for i in 0..7 {
        app.post("/v1/customers", &a.access, json!({"name": format!("Customer {i}")})).await;
    }
    let service = app.post("/v1/services", &a.access, json!({"name": "Cut", "duration_minutes": 30})).await;
    let canned = app.post("/v1/canned-responses", &a.access, json!({"shortcut": "hi", "title": "Hi", "body": "Hello!"})).await;
    app.post("/v1/customers", &b.access, json!({"name": "B's secret customer"})).await;

    let (changes, cursor) = pull_all(&app, &a.access, 0, 3).await;
    let seqs: Vec<i64> = changes.iter().map(|c| c["seq"].as_i64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "in seq order: {seqs:?}");
    assert_eq!(cursor, app.last_seq(&a.business_id).await);
    assert_eq!(changes.iter().filter(|c| c["entity"] == "customer").count(), 7);
    let svc = changes.iter().find(|c| c["entity"] == "service").unwrap();
    assert_eq!(svc["data"], service.body, "the state is what the API shows");
    assert!(changes.iter().any(|c| c["entity"] == "business") && changes.iter().any(|c| c["entity"] == "schedule"));
    assert!(!changes.iter().any(|c| c.to_string().contains("B's secret customer")), "another business's data never appears");

    // Caught up: nothing new. Then an edit and a deletion arrive as the only changes.
    let (none, same) = pull_all(&app, &a.access, cursor, 50).await;
    assert!(none.is_empty());
    assert_eq!(same, cursor);
    let sid = service.body["id"].as_str().unwrap();
    app.patch(&format!("/v1/services/{sid}"), &a.access, json!({"price_cents": 2500})).await;
    let kid = canned.body["id"].as_str().unwrap();
    app.delete(&format!("/v1/canned-responses/{kid}"), &a.access).await;
    let (news, _) = pull_all(&app, &a.access, cursor, 50).await;
    assert_eq!(news.len(), 2, "{news:?}");
    assert_eq!((news[0]["entity"].as_str(), news[0]["data"]["price_cents"].as_i64()), (Some("service"), Some(2500)));
    assert_eq!((news[1]["entity"].as_str(), news[1]["id"].as_str(), news[1]["data"].clone()), (Some("canned_response"), Some(kid), Value::Null));

    // The log is self-compacting: the service appears once, with its latest state.
    let (everything, _) = pull_all(&app, &a.access, 0, 500).await;
    assert_eq!(everything.iter().filter(|c| c["id"] == sid).count(), 1);

    let r = app.get("/v1/sync/pull?cursor=-1", &a.access).await;
    assert_eq!(r.code(), "invalid_cursor");
    let r = app.get("/v1/sync/pull?cursor=999999", &a.access).await;
    assert_eq!(r.code(), "invalid_cursor");
}

/// A console gets only what its person may read through the API: invitations need the right to
/// manage staff, so an admin's console gets them and an agent's does not (the agent's cursor still
/// moves past them, even over a page of nothing else). A role change makes a cursor from before
/// it stale (`resync_required`): what was pulled under the old role is reloaded under the new.
async fn a_console_gets_only_what_its_role_may_read(app: TestApp) {
    let owner = app.signup("roles").await;
    let admin = app.add_staff(&owner, "admin").await;
    let agent = app.add_staff(&owner, "agent").await;
    let before_invitations = app.last_seq(&owner.business_id).await;
    for i in 0..4 {
        let invited = app.post("/v1/invitations", &owner.access, json!({"email": format!("invitee-{i}@example.com"), "role": "agent"})).await;
        assert_eq!(invited.status, StatusCode::CREATED, "{invited:?}");
    }
    app.post("/v1/customers", &owner.access, json!({"name": "After the invitations"})).await;
    assert_eq!(app.get("/v1/invitations", &agent.access).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get("/v1/invitations", &admin.access).await.status, StatusCode::OK);

    let last = app.last_seq(&owner.business_id).await;
    let (admins, admin_cursor) = pull_all(&app, &admin.access, 0, 2).await;
    let (agents, agent_cursor) = pull_all(&app, &agent.access, 0, 2).await;
    assert_eq!((admin_cursor, agent_cursor), (last, last), "both consoles are caught up");
    let invitations = |changes: &[Value]| changes.iter().filter(|c| c["entity"] == "invitation").count();
    assert_eq!(invitations(&admins), 6, "the four open ones and the two accepted");
    assert_eq!(invitations(&agents), 0, "an agent may not read invitations");
    let others: Vec<&Value> = admins.iter().filter(|c| c["entity"] != "invitation").collect();
    assert_eq!(agents.iter().collect::<Vec<_>>(), others, "everything else alike");
    // A page of nothing but invitations moves the agent's cursor on.
    let page = app.get(&format!("/v1/sync/pull?cursor={before_invitations}&limit=2"), &agent.access).await;
    assert_eq!(page.status, StatusCode::OK, "{page:?}");
    assert_eq!((page.body["changes"].clone(), page.body["cursor"].as_i64(), page.body["has_more"].as_bool()), (json!([]), Some(before_invitations + 2), Some(true)));

    // Promoted: a pull from 0 (the console reloads when the welcome brings new permissions),
    // page by page, brings the invitations — a cursor from before the change is no obstacle.
    let promoted = app.patch(&format!("/v1/staff/{}", agent.staff_id), &owner.access, json!({"role": "admin"})).await;
    assert_eq!(promoted.status, StatusCode::OK, "{promoted:?}");
    let (reloaded, cursor) = pull_all(&app, &agent.access, 0, 2).await;
    assert_eq!(invitations(&reloaded), 6);
    assert_eq!(cursor, app.last_seq(&owner.business_id).await);
    assert_eq!(app.get(&format!("/v1/sync/pull?cursor={agent_cursor}"), &agent.access).await.status, StatusCode::OK);

    // Made an agent again: reloading drops what an agent may not read.
    app.patch(&format!("/v1/staff/{}", agent.staff_id), &owner.access, json!({"role": "agent"})).await;
    let (reloaded, _) = pull_all(&app, &agent.access, 0, 2).await;
    assert_eq!(invitations(&reloaded), 0);
}

async fn a_cursor_older_than_compacted_tombstones_must_resync(app: TestApp) {
    let a = app.signup("compact").await;
    let k = app.post("/v1/canned-responses", &a.access, json!({"shortcut": "bye", "title": "Bye", "body": "Bye!"})).await;
    let (_, old_cursor) = pull_all(&app, &a.access, 0, 100).await;
    app.delete(&format!("/v1/canned-responses/{}", k.body["id"].as_str().unwrap()), &a.access).await;
    app.post("/v1/customers", &a.access, json!({"name": "After"})).await;
    let removed = switchboard_cloud::sync::compact(&app.db, &a.business_id, app.db.now_ms() + 1).await.unwrap();
    assert_eq!(removed, 1);
    let r = app.get(&format!("/v1/sync/pull?cursor={old_cursor}"), &a.access).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "resync_required"), "{r:?}");
    // From 0 everything current arrives, without the deleted reply.
    let (all, _) = pull_all(&app, &a.access, 0, 100).await;
    assert!(all.iter().all(|c| !c["data"].is_null()));
    assert!(all.iter().any(|c| c["data"]["name"] == "After"));
}

}

on_both_engines! {

spawn = |engine| spawn_with_fakes(engine, |_| {});

async fn push_applies_in_order_once_and_reports_refusals((app, fake): (TestApp, FakeProviders)) {
    let owner = app.signup("push").await;
    let sam = app.add_staff(&owner, "agent").await;
    connect_whatsapp(&app, &owner, PHONE_ID, &app_secret(&owner)).await;
    let conversation = whatsapp_customer(&app, &owner, "447911123480").await;
    let message_id = uuid::Uuid::now_v7().to_string();
    let batch = json!({"client_id": "owner-laptop-1", "mutations": [
        {"id": 1, "name": "take_over", "args": {"conversation_id": conversation}},
        {"id": 2, "name": "send_message", "args": {"conversation_id": conversation, "message_id": message_id, "body": "On it!"}},
        {"id": 3, "name": "mark_read", "args": {"conversation_id": conversation}},
    ]});
    let r = app.post("/v1/sync/push", &owner.access, batch.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let outcomes = r.body["outcomes"].as_array().unwrap().clone();
    assert_eq!(outcomes.iter().map(|o| o["ok"].as_bool().unwrap()).collect::<Vec<_>>(), vec![true, true, true], "{outcomes:?}");
    assert_eq!(outcomes[1]["details"]["message_id"], message_id.as_str());
    // The answer was lost; the console replays the whole batch: same outcomes, nothing twice.
    let again = app.post("/v1/sync/push", &owner.access, batch).await;
    assert_eq!(again.body["outcomes"], json!(outcomes));
    app.settled("sent once", || async { fake.sends().len() == 1 }).await;
    // The same batch pushed several times at once from a device new to the service (a retry while
    // the first push is still on its way): each push answers the same outcomes, applied once.
    let racing_message = uuid::Uuid::now_v7().to_string();
    let racing = json!({"client_id": "owner-tablet-1", "mutations": [
        {"id": 1, "name": "send_message", "args": {"conversation_id": conversation, "message_id": racing_message, "body": "Once, however often"}},
        {"id": 2, "name": "mark_read", "args": {"conversation_id": conversation}},
    ]});
    let answers = futures_util::future::join_all((0..6).map(|_| app.post("/v1/sync/push", &owner.access, racing.clone()))).await;
    for a in &answers {
        assert_eq!(a.status, StatusCode::OK, "{a:?}");
        assert_eq!(a.body["outcomes"].as_array().map(|o| o.iter().map(|o| (o["id"].as_i64(), o["ok"].as_bool())).collect::<Vec<_>>()), Some(vec![(Some(1), Some(true)), (Some(2), Some(true))]), "{a:?}");
        assert_eq!(a.body["outcomes"][0]["details"]["message_id"], racing_message.as_str(), "the same answer, details too: {a:?}");
    }
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM messages WHERE id = $1").bind(&racing_message).fetch_one(app.db.reader()).await.unwrap();
    assert_eq!(stored, 1);
    app.settled("sent once", || async { fake.sends().len() == 2 }).await;
    // A gap stops the batch and says where to resume; nothing after it is applied.
    let r = app.post("/v1/sync/push", &owner.access, json!({"client_id": "owner-laptop-1", "mutations": [
        {"id": 5, "name": "set_status", "args": {"conversation_id": conversation, "status": "resolved"}}]})).await;
    assert_eq!((r.body["expected_id"].as_i64(), r.body["outcomes"].as_array().unwrap().len()), (Some(4), 0));
    assert_eq!(app.get(&format!("/v1/conversations/{conversation}"), &owner.access).await.body["conversation"]["status"], "open");
    // Ids count from 1: a batch with one below is refused whole (it was answered with no outcome
    // and no expected id, and nothing was applied), and changes nothing.
    for id in [0, -5] {
        let r = app.post("/v1/sync/push", &owner.access, json!({"client_id": "owner-laptop-1", "mutations": [
            {"id": 4, "name": "set_status", "args": {"conversation_id": conversation, "status": "resolved"}},
            {"id": id, "name": "set_status", "args": {"conversation_id": conversation, "status": "resolved"}}]})).await;
        assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"), "{id}: {r:?}");
    }
    assert_eq!(app.get(&format!("/v1/conversations/{conversation}"), &owner.access).await.body["conversation"]["status"], "open");
    // Sam, offline meanwhile, wrote in the conversation the owner now holds: refused with who
    // holds it, kept as a draft by Sam's console; Sam's next mutation still applies.
    let r = app.post("/v1/sync/push", &sam.access, json!({"client_id": "front-desk-pc", "mutations": [
        {"id": 1, "name": "send_message", "args": {"conversation_id": conversation, "message_id": uuid::Uuid::now_v7().to_string(), "body": "Hi from Sam"}},
        {"id": 2, "name": "set_status", "args": {"conversation_id": conversation, "status": "resolved"}},
        {"id": 3, "name": "fly_to_the_moon", "args": {}}]})).await;
    let o = r.body["outcomes"].as_array().unwrap();
    assert_eq!((o[0]["ok"].as_bool(), o[0]["code"].as_str()), (Some(false), Some("already_held")));
    assert_eq!(o[0]["details"]["holder_staff_id"], owner.staff_id.as_str());
    assert_eq!((o[1]["ok"].as_bool(), o[2]["code"].as_str()), (Some(true), Some("unknown_mutation")));
    assert_eq!(app.get(&format!("/v1/conversations/{conversation}"), &owner.access).await.body["conversation"]["status"], "resolved");
    // Booked offline with the console's own ids: applied once however often it is pushed; a
    // stale reschedule is refused (an outcome, not a blocker) and the cancel after it applies.
    let week = every_day("00:00", "24:00");
    app.patch("/v1/schedule", &owner.access, json!({"opening_hours": week, "min_notice_minutes": 0})).await;
    let service = app.post("/v1/services", &owner.access, json!({"name": "Trim", "duration_minutes": 30})).await.body["id"].as_str().unwrap().to_owned();
    let customer = app.get(&format!("/v1/conversations/{conversation}"), &owner.access).await.body["customer"]["id"].as_str().unwrap().to_owned();
    let start = app.get(&format!("/v1/availability?service_id={service}&limit=1"), &owner.access).await.body["slots"][0]["start"].as_str().unwrap().to_owned();
    let (note_id, booking_id) = (uuid::Uuid::now_v7().to_string(), uuid::Uuid::now_v7().to_string());
    let offline = json!({"client_id": "owner-laptop-1", "mutations": [
        {"id": 4, "name": "add_note", "args": {"conversation_id": conversation, "note_id": note_id, "body": "Prefers Sam"}},
        {"id": 5, "name": "create_booking", "args": {"booking_id": booking_id, "customer_id": customer, "service_id": service, "start": start}},
        {"id": 6, "name": "reschedule_booking", "args": {"booking_id": booking_id, "expected_version": 7, "start": start}},
        {"id": 7, "name": "cancel_booking", "args": {"booking_id": booking_id, "expected_version": 1, "reason": "Changed their mind"}},
    ]});
    let first = app.post("/v1/sync/push", &owner.access, offline.clone()).await;
    let o = first.body["outcomes"].as_array().unwrap().clone();
    assert_eq!(o.iter().map(|x| x["ok"].as_bool().unwrap()).collect::<Vec<_>>(), vec![true, true, false, true], "{o:?}");
    assert_eq!((o[1]["details"]["booking_id"].as_str(), o[2]["code"].as_str()), (Some(booking_id.as_str()), Some("version_conflict")));
    let replay = app.post("/v1/sync/push", &owner.access, offline).await;
    assert_eq!(replay.body["outcomes"], json!(o));
    let bookings = app.all_items("/v1/bookings", &owner.access).await;
    assert_eq!(bookings.len(), 1);
    assert_eq!((bookings[0]["id"].as_str(), bookings[0]["status"].as_str()), (Some(booking_id.as_str()), Some("cancelled")));
    let notes = app.all_items(&format!("/v1/conversations/{conversation}/notes"), &owner.access).await;
    assert_eq!((notes.len(), notes[0]["id"].as_str()), (1, Some(note_id.as_str())));
    // Assigning, editing the customer and sending a saved reply go the same way, with the REST
    // API's checks (a stranger cannot be assigned).
    let canned = app.post("/v1/canned-responses", &owner.access, json!({"shortcut": "thanks", "title": "Thanks", "body": "Thank you, see you soon!"})).await;
    let canned_message = uuid::Uuid::now_v7().to_string();
    let r = app.post("/v1/sync/push", &owner.access, json!({"client_id": "owner-laptop-1", "mutations": [
        {"id": 8, "name": "assign", "args": {"conversation_id": conversation, "staff_id": sam.staff_id}},
        {"id": 9, "name": "assign", "args": {"conversation_id": conversation, "staff_id": uuid::Uuid::now_v7().to_string()}},
        {"id": 10, "name": "update_customer", "args": {"customer_id": customer, "changes": {"name": "Ada Lovelace", "tags": ["vip"]}}},
        {"id": 11, "name": "update_customer", "args": {"customer_id": customer, "changes": {"shoe_size": 9}}},
        {"id": 12, "name": "set_status", "args": {"conversation_id": conversation, "status": "open"}},
        {"id": 13, "name": "use_canned_response", "args": {"conversation_id": conversation, "message_id": canned_message, "canned_response_id": canned.body["id"]}},
    ]})).await;
    let o = r.body["outcomes"].as_array().unwrap().clone();
    assert_eq!(o.iter().map(|x| x["ok"].as_bool().unwrap()).collect::<Vec<_>>(), vec![true, false, true, false, true, true], "{o:?}");
    assert_eq!((o[1]["code"].as_str(), o[3]["code"].as_str()), (Some("unknown_staff"), Some("validation_failed")));
    let detail = app.get(&format!("/v1/conversations/{conversation}"), &owner.access).await.body;
    assert_eq!(detail["conversation"]["assignee_staff_id"], sam.staff_id.as_str());
    assert_eq!((detail["customer"]["name"].as_str(), detail["customer"]["tags"].clone()), (Some("Ada Lovelace"), json!(["vip"])));
    let assigned = app.get("/v1/conversations?assignee=me", &sam.access).await.body["items"].as_array().unwrap().len();
    assert_eq!(assigned, 1);
    app.settled("the saved reply is sent", || async { fake.sends().iter().any(|s| s.body.to_string().contains("see you soon")) }).await;
    // A device id is bound to its first user.
    let r = app.post("/v1/sync/push", &sam.access, json!({"client_id": "owner-laptop-1", "mutations": []})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Pulls carry the device's outcomes.
    let page = app.get("/v1/sync/pull?cursor=0&client_id=front-desk-pc", &sam.access).await;
    assert_eq!(page.body["outcomes"].as_array().unwrap().len(), 3);
    assert_eq!(page.body["outcomes"][0]["code"], "already_held");
    let page = app.get("/v1/sync/pull?cursor=0&client_id=owner-laptop-1", &sam.access).await;
    assert!(page.body["outcomes"].as_array().unwrap().is_empty(), "another person's device outcomes are not shown");
}

}

/// One business's client-chosen ids, as a console makes them offline.
struct Desk {
    t: switchboard_testkit::Tenant,
    client_id: String,
    next: std::cell::Cell<i64>,
    conversation: String,
    service: String,
    template: String,
}

impl Desk {
    /// A business with a WhatsApp number (`phone_id`), a customer's conversation, a service and a template.
    async fn open(app: &TestApp, label: &str, phone_id: &str, from: &str) -> Desk {
        let t = app.signup(label).await;
        let secret = app_secret(&t);
        connect_whatsapp(app, &t, phone_id, &secret).await;
        post_whatsapp_signed(app, &notification(phone_id, Value::Null, json!([text(&format!("wamid.in-{from}"), from, "Hello?")]), Value::Null), &secret).await;
        app.settled("the conversation exists", || async { !app.get("/v1/conversations", &t.access).await.body["items"].as_array().unwrap().is_empty() }).await;
        let conversation = app.get("/v1/conversations", &t.access).await.body["items"][0]["id"].as_str().unwrap().to_owned();
        app.patch("/v1/schedule", &t.access, json!({"opening_hours": every_day("00:00", "24:00"), "min_notice_minutes": 0})).await;
        let service = app.post("/v1/services", &t.access, json!({"name": "Trim", "duration_minutes": 30})).await.body["id"].as_str().unwrap().to_owned();
        let template = app.post("/v1/whatsapp-templates", &t.access, json!({"name": "hello", "language": "en_GB", "body": "Hello {{1}}"})).await;
        assert_eq!(template.status, StatusCode::CREATED, "{template:?}");
        let template = template.body["id"].as_str().unwrap().to_owned();
        Desk { t, client_id: "front-desk".into(), next: std::cell::Cell::new(1), conversation, service, template }
    }

    /// Pushes one mutation; its outcome.
    async fn push(&self, app: &TestApp, name: &str, args: Value) -> Value {
        let id = self.next.get();
        let r = app.post("/v1/sync/push", &self.t.access, json!({"client_id": self.client_id, "mutations": [{"id": id, "name": name, "args": args}]})).await;
        if r.status == StatusCode::OK {
            self.next.set(id + 1);
            r.body["outcomes"][0].clone()
        } else {
            json!({"status": r.status.as_u16(), "code": r.code()})
        }
    }

    async fn put_media(&self, app: &TestApp, id: &str, bytes: &[u8]) -> (StatusCode, Value) {
        let res = app.client.put(format!("{}/v1/media/{id}?filename=f.png", app.base)).bearer_auth(&self.t.access).header("content-type", "image/png").body(bytes.to_vec()).send().await.unwrap();
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    async fn start(&self, app: &TestApp) -> String {
        let slots = app.get(&format!("/v1/availability?service_id={}&limit=1", self.service), &self.t.access).await;
        slots.body["slots"][0]["start"].as_str().unwrap().to_owned()
    }
}

/// A creates with `args_a`, then B with `args_b` (the same id): both apply, and B pushing its
/// create again answers B's entity again. B's outcome.
async fn created_by_both(app: &TestApp, (a, b): (&Desk, &Desk), name: &str, args_a: Value, args_b: Value) -> Value {
    let ra = a.push(app, name, args_a).await;
    let rb = b.push(app, name, args_b.clone()).await;
    assert!(ra["ok"] == true && rb["ok"] == true, "{name}: {ra} {rb}");
    let again = b.push(app, name, args_b).await;
    assert_eq!((again["ok"].clone(), again["details"].clone()), (json!(true), rb["details"].clone()), "{name} again");
    rb
}

/// `field` of the entity `kind`/`id` in each business's change log.
async fn logged(app: &TestApp, (a, b): (&Desk, &Desk), kind: &str, id: &str, field: &str) -> (Vec<Value>, Vec<Value>) {
    let pick = |changes: Vec<Value>| changes.iter().filter(|c| c["entity"] == kind && c["id"] == id).map(|c| c["data"][field].clone()).collect::<Vec<_>>();
    (pick(pull_all(app, &a.t.access, 0, 1000).await.0), pick(pull_all(app, &b.t.access, 0, 1000).await.0))
}

fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

on_both_engines! {

spawn = |engine| spawn_with_fakes(engine, |_| {});

/// Issue 13, defect 9: every place a client chooses an id, probed with an id another business
/// used first (A creates with X, then B creates with X). Device ids, notes and uploads behave for
/// B exactly as an unused id would; the ids still keyed globally answer as before (listed in
/// DESIGN.md, "Ids"), asserted here so that fixing one shows up.
async fn a_client_chosen_id_of_another_business_behaves_like_an_unused_one((app, _fake): (TestApp, FakeProviders)) {
    let a = Desk::open(&app, "ids-a", PHONE_ID, "447911300001").await;
    let b = Desk::open(&app, "ids-b", "209876543210", "447911300002").await;
    let ok = |o: &Value| o["ok"].as_bool() == Some(true);

    // The device id: B's console takes the one A's uses, and each sees only its own outcomes.
    assert_eq!(a.client_id, b.client_id);
    let ra = a.push(&app, "mark_read", json!({"conversation_id": a.conversation})).await;
    let rb = b.push(&app, "mark_read", json!({"conversation_id": b.conversation})).await;
    assert!(ok(&ra) && ok(&rb), "{ra} {rb}");

    // A note: B's own, read back by X; A's stays A's; B's retry returns B's; edits stay apart.
    let x = new_id();
    let rb = created_by_both(&app, (&a, &b), "add_note", json!({"conversation_id": a.conversation, "note_id": x, "body": "A's note"}),
        json!({"conversation_id": b.conversation, "note_id": x, "body": "B's note"})).await;
    assert_eq!(rb["details"]["note_id"], x.as_str());
    let path = format!("/v1/notes/{x}");
    assert_eq!((app.get(&path, &a.t.access).await.body["body"].as_str(), app.get(&path, &b.t.access).await.body["body"].as_str()), (Some("A's note"), Some("B's note")));
    assert_eq!(app.all_items(&format!("/v1/conversations/{}/notes", b.conversation), &b.t.access).await.len(), 1);
    let r = app.patch(&format!("/v1/notes/{x}"), &b.t.access, json!({"body": "B's note, edited"})).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(app.get(&path, &a.t.access).await.body["body"], "A's note");
    assert_eq!(logged(&app, (&a, &b), "note", &x, "body").await, (vec![json!("A's note")], vec![json!("B's note, edited")]));
    assert_eq!(app.delete(&format!("/v1/notes/{x}"), &b.t.access).await.status, StatusCode::NO_CONTENT);
    assert_eq!((app.get(&path, &a.t.access).await.status, app.get(&path, &b.t.access).await.status), (StatusCode::OK, StatusCode::NOT_FOUND));

    // An upload: 201 and B's file, read back by X; the same upload again is 200.
    let x = new_id();
    let (sa, _) = a.put_media(&app, &x, b"PNG-A").await;
    let (sb, fb) = b.put_media(&app, &x, b"PNG-B").await;
    assert_eq!((sa, sb, fb["id"].as_str(), fb["size"].as_i64()), (StatusCode::CREATED, StatusCode::CREATED, Some(x.as_str()), Some(5)));
    assert_eq!(b.put_media(&app, &x, b"PNG-B").await.0, StatusCode::OK);
    for (desk, bytes) in [(&a, &b"PNG-A"[..]), (&b, &b"PNG-B"[..])] {
        let res = app.client.get(format!("{}/v1/media/{x}", app.base)).bearer_auth(&desk.t.access).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.bytes().await.unwrap().as_ref(), bytes);
    }

    // A reply: B's own message under X, sent once; the REST route's `client_message_id` too.
    let x = new_id();
    let rb = created_by_both(&app, (&a, &b), "send_message", json!({"conversation_id": a.conversation, "message_id": x, "body": "From A"}),
        json!({"conversation_id": b.conversation, "message_id": x, "body": "From B"})).await;
    assert_eq!(rb["details"]["message_id"], x.as_str());
    app.drain().await;
    assert_eq!(message(&app, &a.t, &a.conversation, &x).await["body"], "From A");
    let mine = message(&app, &b.t, &b.conversation, &x).await;
    assert_eq!((mine["body"].as_str(), mine["delivery_status"].as_str()), (Some("From B"), Some("sent")), "{mine}");
    let y = new_id();
    let ra = app.post(&format!("/v1/conversations/{}/messages", a.conversation), &a.t.access, json!({"body": "A again", "client_message_id": y})).await;
    let rb = app.post(&format!("/v1/conversations/{}/messages", b.conversation), &b.t.access, json!({"body": "B again", "client_message_id": y})).await;
    assert_eq!((ra.status, rb.status, rb.body["id"].as_str(), rb.body["body"].as_str()), (StatusCode::CREATED, StatusCode::CREATED, Some(y.as_str()), Some("B again")), "{rb:?}");
    let retry = app.post(&format!("/v1/conversations/{}/messages", b.conversation), &b.t.access, json!({"body": "B again", "client_message_id": y})).await;
    assert_eq!((retry.status.is_success(), retry.body["id"].as_str()), (true, Some(y.as_str())), "{retry:?}");
    assert_eq!(logged(&app, (&a, &b), "message", &x, "body").await, (vec![json!("From A")], vec![json!("From B")]));

    // A walk-in: B's own customer under X, found by X, edited apart from A's.
    let x = new_id();
    let ra = a.push(&app, "create_customer", json!({"customer_id": x, "customer": {"name": "Walk-in A", "phone": "+447911123501"}})).await;
    let rb = b.push(&app, "create_customer", json!({"customer_id": x, "customer": {"name": "Walk-in B", "phone": "+447911123502"}})).await;
    assert!(ok(&ra) && ok(&rb), "{ra} {rb}");
    assert_eq!(rb["details"]["customer_id"], x.as_str());
    let again = b.push(&app, "create_customer", json!({"customer_id": x, "customer": {"name": "Walk-in B", "phone": "+447911123502"}})).await;
    assert_eq!(again["code"], "customer_exists", "as for an unused id pushed twice: {again}");
    let rb = b.push(&app, "update_customer", json!({"customer_id": x, "changes": {"name": "Walk-in B, renamed"}})).await;
    assert!(ok(&rb), "{rb}");
    let (ka, kb) = (app.get(&format!("/v1/customers/{x}"), &a.t.access).await, app.get(&format!("/v1/customers/{x}"), &b.t.access).await);
    assert_eq!((ka.body["name"].as_str(), kb.body["name"].as_str()), (Some("Walk-in A"), Some("Walk-in B, renamed")), "{ka:?} {kb:?}");
    let walk_in = x;

    let (ca, cb) = (new_id(), new_id());
    a.push(&app, "create_customer", json!({"customer_id": ca, "customer": {"name": "New A", "phone": "+447911123503"}})).await;
    b.push(&app, "create_customer", json!({"customer_id": cb, "customer": {"name": "New B", "phone": "+447911123504"}})).await;
    // Writing first: B's conversation under X (and a message id A used too), B's customer in it.
    let (x, m) = (new_id(), new_id());
    let rb = created_by_both(&app, (&a, &b), "start_conversation",
        json!({"conversation_id": x, "customer_id": ca, "channel": "whatsapp", "message_id": m, "template_id": a.template, "variables": ["A"]}),
        json!({"conversation_id": x, "customer_id": cb, "channel": "whatsapp", "message_id": m, "template_id": b.template, "variables": ["B"]})).await;
    assert_eq!((rb["details"]["conversation_id"].as_str(), rb["details"]["message_id"].as_str()), (Some(x.as_str()), Some(m.as_str())));
    let (da, db) = (app.get(&format!("/v1/conversations/{x}"), &a.t.access).await, app.get(&format!("/v1/conversations/{x}"), &b.t.access).await);
    assert_eq!((da.body["customer"]["id"].as_str(), db.body["customer"]["id"].as_str()), (Some(ca.as_str()), Some(cb.as_str())), "{db:?}");
    app.drain().await;
    // Sorted: the take-over line and the template are written in the same millisecond, and ties are
    // ordered by id, which here is random.
    let texts = |t: &Value| {
        let mut v = t["items"].as_array().unwrap().iter().map(|m| m["body"].as_str().unwrap_or_default().to_owned()).collect::<Vec<_>>();
        v.sort();
        v
    };
    let (ma, mb) = (app.get(&format!("/v1/conversations/{x}/messages"), &a.t.access).await, app.get(&format!("/v1/conversations/{x}/messages"), &b.t.access).await);
    assert_eq!((texts(&ma.body), texts(&mb.body)), (vec!["Hello A".to_owned(), "ids-a Owner took over from the assistant.".to_owned()], vec!["Hello B".to_owned(), "ids-b Owner took over from the assistant.".to_owned()]));
    assert_eq!(message(&app, &b.t, &x, &m).await["delivery_status"], "sent");
    // A note in it, and B taking it over, touch only B's.
    let rb = b.push(&app, "add_note", json!({"conversation_id": x, "note_id": new_id(), "body": "B's first note"})).await;
    assert!(ok(&rb), "{rb}");
    assert!(app.all_items(&format!("/v1/conversations/{x}/notes"), &a.t.access).await.is_empty());
    let rb = b.push(&app, "set_status", json!({"conversation_id": x, "status": "resolved"})).await;
    assert!(ok(&rb), "{rb}");
    let (da, db) = (app.get(&format!("/v1/conversations/{x}"), &a.t.access).await, app.get(&format!("/v1/conversations/{x}"), &b.t.access).await);
    assert_eq!((da.body["conversation"]["status"].as_str(), db.body["conversation"]["status"].as_str()), (Some("open"), Some("resolved")));

    // Booked offline: B's booking under X, for B's customer (who has A's customer's id too).
    let x = new_id();
    let (sa, sb) = (a.start(&app).await, b.start(&app).await);
    let rb = created_by_both(&app, (&a, &b), "create_booking", json!({"booking_id": x, "customer_id": walk_in, "service_id": a.service, "start": sa}),
        json!({"booking_id": x, "customer_id": walk_in, "service_id": b.service, "start": sb})).await;
    assert_eq!((rb["details"]["booking_id"].as_str(), rb["details"]["version"].as_i64()), (Some(x.as_str()), Some(1)));
    let rb = b.push(&app, "cancel_booking", json!({"booking_id": x, "expected_version": 1, "reason": "B changed their mind"})).await;
    assert!(ok(&rb), "{rb}");
    let (ba, bb) = (app.get(&format!("/v1/bookings/{x}"), &a.t.access).await, app.get(&format!("/v1/bookings/{x}"), &b.t.access).await);
    assert_eq!((ba.body["status"].as_str(), bb.body["status"].as_str()), (Some("confirmed"), Some("cancelled")), "{ba:?} {bb:?}");
    assert_eq!((ba.body["service_id"].as_str(), bb.body["service_id"].as_str()), (Some(a.service.as_str()), Some(b.service.as_str())));
    assert_eq!(app.all_items("/v1/bookings", &b.t.access).await.len(), 1);
    assert_eq!(logged(&app, (&a, &b), "booking", &x, "status").await, (vec![json!("confirmed")], vec![json!("cancelled")]));

    // Each device's outcomes are its business's own.
    let pull = "/v1/sync/pull?cursor=0&client_id=front-desk";
    let (oa, ob) = (app.get(pull, &a.t.access).await.body["outcomes"].clone(), app.get(pull, &b.t.access).await.body["outcomes"].clone());
    let ids = |o: &Value| o.as_array().unwrap().iter().map(|m| m["id"].as_i64().unwrap()).collect::<Vec<_>>();
    assert_eq!(ids(&oa).len() as i64, a.next.get() - 1, "{oa}");
    assert_eq!(ids(&ob).len() as i64, b.next.get() - 1, "{ob}");
}
}


async fn exec(db: &switchboard_cloud::store::Db, sql: &str) -> Result<(), sqlx::Error> {
    sqlx::query(sql).execute(db.writer()).await.map(|_| ())
}

const MESSAGE_A: &str = "INSERT INTO messages (id, business_id, conversation_id, direction, author_kind, body, delivery_status, created_at, updated_at) \
     VALUES ('msg-x', 'biz-a', 'conv-biz-a', 'outbound', 'staff', 'Hi from biz-a', 'pending', 1, 1)";
const OUTBOX_A: &str = "INSERT INTO outbox (id, business_id, message_id, channel, request, status, next_attempt_at, created_at, updated_at) \
     VALUES ('out-1', 'biz-a', 'msg-x', 'sms', '{}', 'queued', 1, 1, 1)";

/// A database with notes, uploads, devices and messages from before migration 0028 keeps every row, and
/// afterwards another business can hold the same ids (on SQLite and PostgreSQL).
#[tokio::test]
async fn migration_0028_keeps_the_rows_and_keys_them_per_business() {
    use switchboard_cloud::store::{migrator, Db};
    for engine in switchboard_testkit::Engine::BOTH {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&engine.fresh_database(dir.path()), 2, std::sync::Arc::new(switchboard_cloud::clock::SystemClock)).await.unwrap();
        let before = sqlx::migrate::Migrator {
            migrations: std::borrow::Cow::Owned(migrator().migrations.iter().filter(|m| m.version < 28).cloned().collect()),
            ignore_missing: false,
            locking: true,
            no_tx: false,
        };
        before.run(db.writer()).await.unwrap();
        for b in ["biz-a", "biz-b"] {
            sqlx::query("INSERT INTO businesses (id, name, timezone, locale, currency, created_at, updated_at) VALUES ($1, $1, 'Europe/London', 'en-GB', 'GBP', 0, 0)")
                .bind(b)
                .execute(db.writer())
                .await
                .unwrap();
            sqlx::query("INSERT INTO staff (id, business_id, name, email, password_hash, role, created_at, updated_at) VALUES ($1, $2, 'S', $1, 'x', 'owner', 0, 0)")
                .bind(format!("staff-{b}"))
                .bind(b)
                .execute(db.writer())
                .await
                .unwrap();
            sqlx::query("INSERT INTO customers (id, business_id, created_at, updated_at) VALUES ($1, $2, 0, 0)").bind(format!("cust-{b}")).bind(b).execute(db.writer()).await.unwrap();
            sqlx::query("INSERT INTO conversations (id, business_id, customer_id, channel, status, mode, last_activity_at, created_at, updated_at) VALUES ($1, $2, $3, 'sms', 'open', 'assistant', 0, 0, 0)")
                .bind(format!("conv-{b}"))
                .bind(b)
                .bind(format!("cust-{b}"))
                .execute(db.writer())
                .await
                .unwrap();
        }
        exec(&db, "INSERT INTO notes (id, business_id, conversation_id, author_staff_id, body, created_at, updated_at) VALUES ('note-x', 'biz-a', 'conv-biz-a', 'staff-biz-a', 'A''s', 1, 2)").await.unwrap();
        exec(&db, "INSERT INTO media (id, business_id, content_type, filename, size, data, created_at) VALUES ('media-x', 'biz-a', 'image/png', 'a.png', 3, 'QUFB', 1)").await.unwrap();
        exec(&db, "INSERT INTO sync_clients (client_id, business_id, staff_id, created_at, last_seen_at) VALUES ('desk', 'biz-a', 'staff-biz-a', 1, 2)").await.unwrap();
        exec(&db, "INSERT INTO sync_mutations (client_id, mutation_id, business_id, name, outcome, applied_at) VALUES ('desk', 1, 'biz-a', 'mark_read', '{}', 1)").await.unwrap();
        exec(&db, MESSAGE_A).await.unwrap();
        exec(&db, OUTBOX_A).await.unwrap();

        db.migrate().await.unwrap();
        let kept: (String, i64, String, i64) = sqlx::query_as(
            "SELECT n.body, n.updated_at, m.data, s.mutation_id FROM notes n, media m, sync_mutations s \
             WHERE n.id = 'note-x' AND m.id = 'media-x' AND s.client_id = 'desk' AND n.business_id = 'biz-a' AND m.business_id = 'biz-a'",
        )
        .fetch_one(db.reader())
        .await
        .unwrap();
        assert_eq!(kept, ("A's".to_owned(), 2, "QUFB".to_owned(), 1), "{engine:?}");
        // B takes the same ids; the same business cannot have one twice.
        exec(&db, "INSERT INTO notes (id, business_id, conversation_id, author_staff_id, body, created_at, updated_at) VALUES ('note-x', 'biz-b', 'conv-biz-b', 'staff-biz-b', 'B''s', 1, 1)").await.unwrap();
        exec(&db, "INSERT INTO media (id, business_id, content_type, filename, size, data, created_at) VALUES ('media-x', 'biz-b', 'image/png', 'b.png', 3, 'QkJC', 1)").await.unwrap();
        exec(&db, "INSERT INTO sync_clients (client_id, business_id, staff_id, created_at, last_seen_at) VALUES ('desk', 'biz-b', 'staff-biz-b', 1, 1)").await.unwrap();
        exec(&db, "INSERT INTO sync_mutations (client_id, mutation_id, business_id, name, outcome, applied_at) VALUES ('desk', 1, 'biz-b', 'mark_read', '{}', 1)").await.unwrap();
        assert!(exec(&db, "INSERT INTO notes (id, business_id, conversation_id, author_staff_id, body, created_at, updated_at) VALUES ('note-x', 'biz-b', 'conv-biz-b', 'staff-biz-b', 'again', 1, 1)").await.is_err());
        assert!(exec(&db, MESSAGE_A).await.is_err(), "{engine:?}");
        // B's customer, conversation and booking may take A's ids, and B's message goes in B's.
        exec(&db, "INSERT INTO customers (id, business_id, created_at, updated_at) VALUES ('cust-biz-a', 'biz-b', 0, 0)").await.unwrap();
        exec(&db, "INSERT INTO services (id, business_id, name, duration_minutes, created_at, updated_at) VALUES ('svc-b', 'biz-b', 'Trim', 30, 0, 0)").await.unwrap();
        let booking = "INSERT INTO bookings (id, business_id, customer_id, service_id, staff_id, start_at, end_at, block_start, block_end, status, source, created_at, updated_at) \
                       VALUES ('book-x', 'biz-b', 'cust-biz-a', 'svc-b', 'staff-biz-b', 10, 20, 10, 20, 'confirmed', 'staff', 0, 0)";
        exec(&db, booking).await.unwrap();
        exec(&db, &booking.replace("'book-x', 'biz-b', 'cust-biz-a'", "'book-y', 'biz-a', 'cust-biz-b'")).await.expect_err("a booking's customer is its business's");
        exec(&db, "INSERT INTO conversations (id, business_id, customer_id, channel, status, mode, last_activity_at, created_at, updated_at) \
                   VALUES ('conv-biz-a', 'biz-b', 'cust-biz-b', 'sms', 'open', 'assistant', 0, 0, 0)").await.unwrap();
        exec(&db, &MESSAGE_A.replace("'msg-x', 'biz-a'", "'msg-z', 'biz-b'")).await.unwrap();
        exec(&db, &MESSAGE_A.replace("biz-a", "biz-b")).await.unwrap();
        exec(&db, &OUTBOX_A.replace("biz-a", "biz-b").replace("'out-1'", "'out-2'")).await.unwrap();
        // An outbox row's message is its business's.
        assert!(exec(&db, &OUTBOX_A.replace("'out-1'", "'out-3'").replace("'msg-x'", "'msg-y'")).await.is_err());
        let bodies: Vec<String> = sqlx::query_scalar("SELECT m.body FROM outbox o JOIN messages m ON m.id = o.message_id AND m.business_id = o.business_id ORDER BY o.id")
            .fetch_all(db.reader())
            .await
            .unwrap();
        assert_eq!(bodies, ["Hi from biz-a", "Hi from biz-b"]);
        // A device's mutations still need the device (of that business).
        assert!(exec(&db, "INSERT INTO sync_mutations (client_id, mutation_id, business_id, name, outcome, applied_at) VALUES ('laptop', 1, 'biz-b', 'mark_read', '{}', 1)").await.is_err());
        let counts: Vec<i64> = sqlx::query_scalar("SELECT COUNT(*) FROM notes UNION ALL SELECT COUNT(*) FROM media UNION ALL SELECT COUNT(*) FROM sync_clients UNION ALL SELECT COUNT(*) FROM sync_mutations")
            .fetch_all(db.reader())
            .await
            .unwrap();
        assert_eq!(counts, [2, 2, 2, 2], "{engine:?}");
        let outboxes: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox").fetch_one(db.reader()).await.unwrap();
        assert_eq!(outboxes, 2);
        db.close().await;
    }
}
