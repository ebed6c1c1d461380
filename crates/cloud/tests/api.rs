//! The public API, end to end over real HTTP, on SQLite and on PostgreSQL.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use switchboard_testkit::{on_both_engines, Engine, Reply, TestApp};

on_both_engines! {

spawn = TestApp::spawn;

async fn signup_login_refresh_and_logout(app: TestApp) {
    let owner = app.signup("ana").await;
    let me = app.get("/v1/me", &owner.access).await;
    assert_eq!(me.status, StatusCode::OK, "{me:?}");
    assert_eq!(me.body["role"], "owner");
    assert_eq!(me.body["email"], owner.email);

    let business = app.get("/v1/business", &owner.access).await;
    assert_eq!(business.body["timezone"], "Europe/London");

    // Same email twice is refused.
    let again = app.call(Method::POST, "/v1/auth/signup", None, Some(json!({
        "business_name": "Other", "timezone": "Europe/Paris", "name": "X", "email": owner.email.to_uppercase(), "password": "long enough pw"}))).await;
    assert_eq!((again.status, again.code()), (StatusCode::CONFLICT, "email_taken"), "{again:?}");

    // Wrong password, unknown email: the same answer.
    for (email, password) in [(owner.email.as_str(), "wrong password"), ("nobody@example.com", "whatever123")] {
        let r = app.call(Method::POST, "/v1/auth/login", None, Some(json!({"email": email, "password": password}))).await;
        assert_eq!((r.status, r.code()), (StatusCode::UNAUTHORIZED, "invalid_credentials"), "{r:?}");
    }
    let login = app.call(Method::POST, "/v1/auth/login", None, Some(json!({"email": owner.email, "password": owner.password}))).await;
    assert_eq!(login.status, StatusCode::OK, "{login:?}");

    // Refresh rotates: the new pair works.
    let refreshed = app.call(Method::POST, "/v1/auth/refresh", None, Some(json!({"refresh_token": owner.refresh}))).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{refreshed:?}");
    let access2 = refreshed.body["access_token"].as_str().unwrap().to_owned();
    let refresh2 = refreshed.body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(refresh2, owner.refresh);
    assert_eq!(app.get("/v1/me", &access2).await.status, StatusCode::OK);

    // Logout ends the login session; the signup session is separate and still works.
    let login_access = login.body["access_token"].as_str().unwrap();
    let login_refresh = login.body["refresh_token"].as_str().unwrap();
    let out = app.call(Method::POST, "/v1/auth/logout", Some(login_access), None).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{out:?}");
    let after = app.get("/v1/me", login_access).await;
    assert_eq!((after.status, after.code()), (StatusCode::UNAUTHORIZED, "session_revoked"));
    let r = app.call(Method::POST, "/v1/auth/refresh", None, Some(json!({"refresh_token": login_refresh}))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{r:?}");
    assert_eq!(app.get("/v1/me", &access2).await.status, StatusCode::OK);
}

async fn reusing_a_refresh_token_revokes_the_family(app: TestApp) {
    let owner = app.signup("reuse").await;
    let first = app.call(Method::POST, "/v1/auth/refresh", None, Some(json!({"refresh_token": owner.refresh}))).await;
    assert_eq!(first.status, StatusCode::OK);
    let new_access = first.body["access_token"].as_str().unwrap().to_owned();
    let new_refresh = first.body["refresh_token"].as_str().unwrap().to_owned();

    // A thief replays the old token: refused, and the whole session ends.
    let replay = app.call(Method::POST, "/v1/auth/refresh", None, Some(json!({"refresh_token": owner.refresh}))).await;
    assert_eq!((replay.status, replay.code()), (StatusCode::UNAUTHORIZED, "refresh_token_reused"), "{replay:?}");
    let legit = app.call(Method::POST, "/v1/auth/refresh", None, Some(json!({"refresh_token": new_refresh}))).await;
    assert_eq!((legit.status, legit.code()), (StatusCode::UNAUTHORIZED, "session_revoked"), "{legit:?}");
    let me = app.get("/v1/me", &new_access).await;
    assert_eq!((me.status, me.code()), (StatusCode::UNAUTHORIZED, "session_revoked"));
    assert_eq!(app.get("/v1/me", &owner.access).await.status, StatusCode::UNAUTHORIZED);
    // Signing in again works.
    let login = app.call(Method::POST, "/v1/auth/login", None, Some(json!({"email": owner.email, "password": owner.password}))).await;
    assert_eq!(login.status, StatusCode::OK);
}

async fn deactivated_staff_lose_access_at_once(app: TestApp) {
    let owner = app.signup("boss").await;
    let agent = app.add_staff(&owner, "agent").await;
    assert_eq!(app.get("/v1/conversations", &agent.access).await.status, StatusCode::OK);
    let staff = app.get("/v1/staff", &owner.access).await;
    assert_eq!(staff.body["items"].as_array().unwrap().len(), 2);

    let off = app.delete(&format!("/v1/staff/{}", agent.staff_id), &owner.access).await;
    assert_eq!(off.status, StatusCode::OK, "{off:?}");
    assert_eq!(off.body["active"], false);

    let r = app.get("/v1/conversations", &agent.access).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNAUTHORIZED, "account_deactivated"), "{r:?}");
    let r = app.call(Method::POST, "/v1/auth/refresh", None, Some(json!({"refresh_token": agent.refresh}))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{r:?}");
    let r = app.call(Method::POST, "/v1/auth/login", None, Some(json!({"email": agent.email, "password": agent.password}))).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNAUTHORIZED, "account_deactivated"), "{r:?}");

    // Reactivated, they can sign in again (old sessions stay ended).
    let on = app.patch(&format!("/v1/staff/{}", agent.staff_id), &owner.access, json!({"active": true})).await;
    assert_eq!(on.status, StatusCode::OK);
    assert_eq!(app.get("/v1/me", &agent.access).await.status, StatusCode::UNAUTHORIZED);
    let r = app.call(Method::POST, "/v1/auth/login", None, Some(json!({"email": agent.email, "password": agent.password}))).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
}

async fn roles_are_checked_per_route(app: TestApp) {
    let owner = app.signup("roles").await;
    let agent = app.add_staff(&owner, "agent").await;
    let admin = app.add_staff(&owner, "admin").await;
    let seq = app.last_seq(&owner.business_id).await;

    let service = json!({"name": "Cut", "duration_minutes": 30});
    let r = app.post("/v1/services", &agent.access, service.clone()).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "forbidden"), "{r:?}");
    let r = app.patch("/v1/business", &agent.access, json!({"name": "Mine now"})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app.post("/v1/invitations", &agent.access, json!({"email": "x@example.com", "role": "agent"})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Admins manage the business but cannot make owners or touch them.
    let r = app.post("/v1/invitations", &admin.access, json!({"email": "y@example.com", "role": "owner"})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{r:?}");
    let r = app.patch(&format!("/v1/staff/{}", agent.staff_id), &admin.access, json!({"role": "owner"})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{r:?}");
    let r = app.delete(&format!("/v1/staff/{}", owner.staff_id), &admin.access).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{r:?}");
    assert_eq!(app.last_seq(&owner.business_id).await, seq, "refused requests change nothing");

    assert_eq!(app.post("/v1/services", &admin.access, service).await.status, StatusCode::CREATED);
    // Inviting someone again replaces their open invitation: one in the list, the newest link works.
    let first = app.post("/v1/invitations", &admin.access, json!({"email": "zoe@example.com", "role": "agent"})).await;
    let again = app.post("/v1/invitations", &admin.access, json!({"email": "Zoe@example.com", "role": "agent"})).await;
    assert_eq!((first.status, again.status), (StatusCode::CREATED, StatusCode::CREATED), "{again:?}");
    let listed = app.get("/v1/invitations", &admin.access).await;
    let zoe: Vec<&Value> = listed.body["items"].as_array().unwrap().iter().filter(|i| i["email"] == "zoe@example.com").collect();
    assert_eq!(zoe.len(), 1, "{listed:?}");
    assert_eq!(zoe[0]["id"], again.body["invitation"]["id"]);
    let accept = |token: &Value| app.call(Method::POST, "/v1/auth/accept-invitation", None, Some(json!({"token": token, "name": "Zoe", "password": "zoe's good password"})));
    assert_eq!(accept(&first.body["token"]).await.code(), "invitation_invalid");
    assert_eq!(accept(&again.body["token"]).await.status, StatusCode::CREATED);
    // Agents answer customers.
    let r = app.post("/v1/customers", &agent.access, json!({"name": "Walk-in"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    // The last owner cannot be demoted or deactivated.
    let r = app.patch(&format!("/v1/staff/{}", owner.staff_id), &owner.access, json!({"role": "admin"})).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "last_owner"), "{r:?}");
    // Only owners touch owners, including bringing a deactivated one back.
    let second_owner = app.add_staff(&owner, "owner").await;
    assert_eq!(app.delete(&format!("/v1/staff/{}", second_owner.staff_id), &owner.access).await.status, StatusCode::OK);
    let r = app.patch(&format!("/v1/staff/{}", second_owner.staff_id), &admin.access, json!({"active": true})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{r:?}");
    // Owners read the audit log; agents may not.
    assert_eq!(app.get("/v1/audit-log", &agent.access).await.status, StatusCode::FORBIDDEN);
    let log = app.get("/v1/audit-log?limit=2", &owner.access).await;
    assert_eq!(log.status, StatusCode::OK, "{log:?}");
    assert_eq!(log.body["items"][0]["action"], "staff.updated", "newest first: {log:?}");
    assert_eq!(log.body["items"][0]["actor_staff_id"], owner.staff_id.as_str());
    let actions: Vec<String> = {
        let mut all = Vec::new();
        let mut path = "/v1/audit-log?limit=2".to_string();
        loop {
            let page = app.get(&path, &owner.access).await;
            all.extend(page.body["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap().to_owned()));
            match page.body["next_cursor"].as_str() { Some(c) => path = format!("/v1/audit-log?limit=2&cursor={c}"), None => break }
        }
        all
    };
    assert_eq!(actions.last().map(String::as_str), Some("business.created"), "{actions:?}");
    assert_eq!(actions.iter().filter(|a| *a == "invitation.accepted").count(), 4, "{actions:?}");
    // A role change applies to the very next request.
    let r = app.patch(&format!("/v1/staff/{}", agent.staff_id), &owner.access, json!({"role": "admin"})).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(app.post("/v1/services", &agent.access, json!({"name": "Dye", "duration_minutes": 90})).await.status, StatusCode::CREATED);
}

async fn customers_services_canned_responses_crud_and_search(app: TestApp) {
    let owner = app.signup("crud").await;
    app.patch("/v1/business", &owner.access, json!({"locale": "en-GB", "currency": "gbp"})).await;
    let c = app.post("/v1/customers", &owner.access, json!({"name": "Olivia Brown", "phone": "07911 123456", "tags": ["vip", "vip"]})).await;
    assert_eq!(c.status, StatusCode::CREATED, "{c:?}");
    assert_eq!(c.body["phone"], "+447911123456", "national number read in the business's region");
    assert_eq!(c.body["tags"], json!(["vip"]));
    let id = c.body["id"].as_str().unwrap().to_owned();
    let dup = app.post("/v1/customers", &owner.access, json!({"name": "Someone", "phone": "+44 7911 123456"})).await;
    assert_eq!((dup.status, dup.code()), (StatusCode::CONFLICT, "customer_exists"), "{dup:?}");
    let bad = app.post("/v1/customers", &owner.access, json!({"phone": "12"})).await;
    assert_eq!((bad.status, bad.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_phone"));
    app.post("/v1/customers", &owner.access, json!({"name": "James Wilson", "phone": "+14155552671"})).await;

    // A number typed the way it is said at the desk finds her too (it was stored in international form).
    for (q, expect) in [("olivia", 1), ("BROWN", 1), ("123456", 1), ("+1 415", 1), ("wil", 1), ("zzz", 0), ("%", 0), ("07911 123456", 1), ("07911123456", 1), ("07911 999999", 0)] {
        let r = app.get(&format!("/v1/customers?q={}", urlencode(q)), &owner.access).await;
        assert_eq!(r.body["items"].as_array().unwrap().len(), expect, "search {q:?}: {r:?}");
    }
    let r = app.patch(&format!("/v1/customers/{id}"), &owner.access, json!({"email": "OLIVIA@example.com", "name": null})).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["email"], "olivia@example.com");
    assert_eq!(r.body["name"], Value::Null);
    assert_eq!(r.body["phone"], "+447911123456", "absent fields are kept");
    assert_eq!(app.delete(&format!("/v1/customers/{id}"), &owner.access).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&format!("/v1/customers/{id}"), &owner.access).await.status, StatusCode::NOT_FOUND);

    let s = app.post("/v1/services", &owner.access, json!({"name": "Cut", "duration_minutes": 45, "price_cents": 3000, "buffer_after_minutes": 10})).await;
    assert_eq!(s.status, StatusCode::CREATED, "{s:?}");
    let sid = s.body["id"].as_str().unwrap();
    let r = app.patch(&format!("/v1/services/{sid}"), &owner.access, json!({"duration_minutes": 2})).await;
    assert_eq!(r.code(), "validation_failed");
    let r = app.patch(&format!("/v1/services/{sid}"), &owner.access, json!({"price_cents": 3500})).await;
    assert_eq!(r.body["price_cents"], 3500);
    assert_eq!(r.body["duration_minutes"], 45);

    let k = app.post("/v1/canned-responses", &owner.access, json!({"shortcut": "/Hours", "title": "Hours", "body": "9 to 5"})).await;
    assert_eq!(k.body["shortcut"], "hours", "{k:?}");
    let again = app.post("/v1/canned-responses", &owner.access, json!({"shortcut": "hours", "title": "Again", "body": "x"})).await;
    assert_eq!(again.code(), "shortcut_taken");
    let kid = k.body["id"].as_str().unwrap();
    assert_eq!(app.delete(&format!("/v1/canned-responses/{kid}"), &owner.access).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get("/v1/canned-responses", &owner.access).await.body, json!({"items": [], "next_cursor": null}));
}

async fn conversations_inbox_filters_pagination_and_notes(app: TestApp) {
    let owner = app.signup("inbox").await;
    let agent = app.add_staff(&owner, "agent").await;
    let mut conversation_ids = Vec::new();
    for i in 0..7 {
        let c = app.post("/v1/customers", &owner.access, json!({"name": format!("Customer {i}")})).await;
        let channel = if i % 2 == 0 { "whatsapp" } else { "sms" };
        let conv = app.post("/v1/conversations", &owner.access, json!({"customer_id": c.body["id"], "channel": channel})).await;
        assert_eq!(conv.status, StatusCode::CREATED, "{conv:?}");
        assert_eq!(conv.body["mode"], "ai");
        conversation_ids.push(conv.body["id"].as_str().unwrap().to_owned());
        // Opening again returns the same conversation.
        let again = app.post("/v1/conversations", &owner.access, json!({"customer_id": c.body["id"], "channel": channel})).await;
        assert_eq!(again.body["id"], conv.body["id"]);
    }
    // Pages of 3 walk all 7, newest first, without repeats.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor { Some(c) => format!("/v1/conversations?limit=3&cursor={c}"), None => "/v1/conversations?limit=3".into() };
        let page = app.get(&path, &agent.access).await;
        assert_eq!(page.status, StatusCode::OK, "{page:?}");
        seen.extend(page.body["items"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_owned()));
        match page.body["next_cursor"].as_str() { Some(c) => cursor = Some(c.to_owned()), None => break }
    }
    let mut expected = conversation_ids.clone();
    expected.reverse();
    assert_eq!(seen, expected);
    let sms = app.get("/v1/conversations?channel=sms", &owner.access).await;
    assert_eq!(sms.body["items"].as_array().unwrap().len(), 3);
    let bad = app.get("/v1/conversations?mode=robot", &owner.access).await;
    assert_eq!((bad.status, bad.code()), (StatusCode::BAD_REQUEST, "invalid_query"));
    let bad = app.get("/v1/conversations?cursor=nonsense", &owner.access).await;
    assert_eq!(bad.code(), "invalid_cursor");

    let id = &conversation_ids[0];
    let resolved = app.patch(&format!("/v1/conversations/{id}"), &agent.access, json!({"status": "resolved"})).await;
    assert_eq!(resolved.body["status"], "resolved");
    let open = app.get("/v1/conversations?status=open", &owner.access).await;
    assert_eq!(open.body["items"].as_array().unwrap().len(), 6);

    let note = app.post(&format!("/v1/conversations/{id}/notes"), &agent.access, json!({"body": "Prefers afternoons"})).await;
    assert_eq!(note.status, StatusCode::CREATED, "{note:?}");
    let detail = app.get(&format!("/v1/conversations/{id}"), &owner.access).await;
    assert_eq!(detail.body["notes"][0]["body"], "Prefers afternoons");
    assert_eq!(detail.body["customer"]["name"], "Customer 0");
    assert_eq!(detail.body["messages"], json!([]));
    // Another agent cannot edit someone else's note; the owner can.
    let other = app.add_staff(&owner, "agent").await;
    let nid = note.body["id"].as_str().unwrap();
    assert_eq!(app.patch(&format!("/v1/notes/{nid}"), &other.access, json!({"body": "x"})).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.patch(&format!("/v1/notes/{nid}"), &owner.access, json!({"body": "Prefers mornings"})).await.body["body"], "Prefers mornings");

    assert_eq!(app.delete(&format!("/v1/conversations/{id}"), &agent.access).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.delete(&format!("/v1/conversations/{id}"), &owner.access).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&format!("/v1/notes/{nid}"), &owner.access).await.status, StatusCode::NOT_FOUND);
}

async fn conversation_detail_pages_back_through_messages(app: TestApp) {
    let demo = switchboard_cloud::demo::seed(&app.db).await.unwrap();
    assert!(demo.created);
    assert!(!switchboard_cloud::demo::seed(&app.db).await.unwrap().created, "seeding twice changes nothing");
    let login = app.call(Method::POST, "/v1/auth/login", None, Some(json!({
        "email": switchboard_cloud::demo::DEMO_EMAIL, "password": switchboard_cloud::demo::DEMO_PASSWORD}))).await;
    let token = login.body["access_token"].as_str().unwrap();
    let inbox = app.get("/v1/conversations", token).await;
    let items = inbox.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    let waiting = app.get("/v1/conversations?mode=needs_human", token).await;
    assert_eq!(waiting.body["items"].as_array().unwrap().len(), 1, "the demo has a customer waiting for a person");
    let james = items.iter().find(|c| c["channel"] == "sms").unwrap();
    assert_eq!(james["unread_count"], 2);
    assert_eq!(james["last_message_preview"], "Same time if possible");
    let id = james["id"].as_str().unwrap();
    let page = app.get(&format!("/v1/conversations/{id}/messages?limit=1"), token).await;
    assert_eq!(page.body["items"][0]["body"], "Same time if possible");
    let older = page.body["next_cursor"].as_str().unwrap();
    let page2 = app.get(&format!("/v1/conversations/{id}/messages?limit=1&before={older}"), token).await;
    assert_eq!(page2.body["items"][0]["body"], "Hello, can I move my appointment on Friday to next week?");
    assert_eq!(page2.body["next_cursor"], Value::Null);
    let read = app.patch(&format!("/v1/conversations/{id}"), token, json!({"mark_read": true})).await;
    assert_eq!(read.body["unread_count"], 0);
    // The demo has upcoming appointments, inside its Tuesday-to-Saturday hours.
    let bookings = app.get("/v1/bookings", token).await;
    let bookings = bookings.body["items"].as_array().unwrap();
    assert_eq!(bookings.len(), 2, "{bookings:?}");
    assert!(bookings.iter().any(|b| b["source"] == "assistant"));
    for b in bookings {
        let weekday = b["local_start"].as_str().unwrap()[..10].parse::<jiff::civil::Date>().unwrap().weekday();
        assert!(!matches!(weekday, jiff::civil::Weekday::Sunday | jiff::civil::Weekday::Monday), "{b}");
    }
}

async fn tenant_isolation_on_every_route_with_an_id(app: TestApp) {
    let a = app.signup("tenant-a").await;
    let b = app.signup("tenant-b").await;
    let b_ids = seed_one_of_everything(&app, &b).await;
    let before = app.last_seq(&b.business_id).await;
    let b_changes = app.changes(&b.business_id).await;

    let doc = app.call(Method::GET, "/openapi.json", None, None).await.body;
    let mut walked = 0;
    for (template, item) in doc["paths"].as_object().unwrap() {
        // Public, token-addressed routes (calendar feeds) are not tenant-scoped by sign-in.
        if !template.contains('{') || !template.starts_with("/v1/") {
            continue;
        }
        let resource = template.trim_start_matches("/v1/").split('/').next().unwrap();
        let id = b_ids.get(resource).unwrap_or_else(|| panic!("the isolation walk does not know how to find an id for {template}; add it to seed_one_of_everything"));
        let path = template.replace("{id}", id);
        assert!(!path.contains('{'), "unhandled path parameter in {template}");
        for method in item.as_object().unwrap().keys() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let body = body_for(&method, template);
            let r = app.call(method.clone(), &path, Some(&a.access), body.clone()).await;
            walked += 1;
            if method == Method::PUT && template == "/v1/media/{id}" {
                // An upload chooses its id: another business's answers as an unused one does.
                let unused = app.call(method.clone(), &template.replace("{id}", &uuid::Uuid::now_v7().to_string()), Some(&a.access), body).await;
                assert_eq!((r.status, r.body.clone()), (unused.status, unused.body), "{method} {template} with another business's id");
                continue;
            }
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{method} {template} with another business's id: {r:?}");
            assert_eq!(r.code(), "not_found", "{method} {template}");
        }
    }
    assert!(walked >= 15, "walked only {walked} operations");
    assert_eq!(app.last_seq(&b.business_id).await, before, "business B's data changed");
    assert_eq!(app.changes(&b.business_id).await, b_changes);
    // And B still sees all of it.
    for (resource, id) in &b_ids {
        if !matches!(*resource, "invitations" | "calendar-feeds" | "calendar-tasks" | "whatsapp-templates" | "webhook-events" | "calls") {
            let r = app.get(&format!("/v1/{resource}/{id}"), &b.access).await;
            assert_eq!(r.status, StatusCode::OK, "{resource}: {r:?}");
        }
    }
}

async fn bad_input_gets_a_clear_error_and_changes_nothing(app: TestApp) {
    let owner = app.signup("bad").await;
    let seq = app.last_seq(&owner.business_id).await;
    let url = format!("{}/v1/customers", app.base);
    let send = |body: &'static str, content_type: Option<&'static str>| {
        let mut req = app.client.post(&url).bearer_auth(&owner.access).body(body);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        async move {
            let res = req.send().await.unwrap();
            let status = res.status();
            let body: Value = res.json().await.unwrap();
            (status, body["error"]["code"].as_str().unwrap_or("").to_owned())
        }
    };
    assert_eq!(send("{\"name\": \"Ana\"", Some("application/json")).await, (StatusCode::BAD_REQUEST, "invalid_json".into()));
    assert_eq!(send("not json at all", Some("application/json")).await, (StatusCode::BAD_REQUEST, "invalid_json".into()));
    assert_eq!(send("{\"name\": 42}", Some("application/json")).await, (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed".into()));
    assert_eq!(send("{\"name\": \"Ana\", \"colour\": \"red\"}", Some("application/json")).await, (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed".into()));
    assert_eq!(send("{\"name\": \"Ana\"}", None).await, (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type".into()));
    assert_eq!(send("{\"name\": \"Ana\"}", Some("text/plain")).await, (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type".into()));
    let huge = format!("{{\"name\": \"{}\"}}", "x".repeat(app.config.max_body_bytes + 10));
    let res = app.client.post(&url).bearer_auth(&owner.access).header("content-type", "application/json").body(huge).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(res.json::<Value>().await.unwrap()["error"]["code"], "payload_too_large");

    let r = app.post("/v1/conversations", &owner.access, json!({"customer_id": "x", "channel": "carrier-pigeon"})).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"), "unknown enum value: {r:?}");
    let r = app.patch(&format!("/v1/staff/{}", owner.staff_id), &owner.access, json!({"role": "emperor"})).await;
    assert_eq!(r.code(), "validation_failed");
    let r = app.post("/v1/services", &owner.access, json!({"name": "Cut", "duration_minutes": -5})).await;
    assert_eq!(r.code(), "validation_failed");
    // A price no appointment has (the reports' sums would overflow), and a misspelt retention
    // setting (it would reset the policy to "keep for ever").
    let r = app.post("/v1/services", &owner.access, json!({"name": "Cut", "duration_minutes": 30, "price_cents": 4_611_686_018_427_387_904_i64})).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"), "{r:?}");
    let r = app.call(Method::PUT, "/v1/retention", Some(&owner.access), Some(json!({"conversation_months": 6}))).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"), "{r:?}");
    let r = app.get("/v1/schedule-exceptions?from=2026-12-31&to=2026-01-01", &owner.access).await;
    assert_eq!(r.code(), "invalid_range", "a reversed range is refused as for bookings: {r:?}");
    for setting in [json!({"language": "../../etc/passwd"}), json!({"model": "x".repeat(100_000)}), json!({"model": "gpt 4\u{0}"})] {
        let r = app.patch("/v1/assistant", &owner.access, setting.clone()).await;
        assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"), "{setting}: {r:?}");
    }
    let r = app.patch("/v1/business", &owner.access, json!({"timezone": "Mars/Olympus_Mons"})).await;
    assert_eq!(r.code(), "validation_failed");
    let r = app.call(Method::POST, "/v1/auth/signup", None, Some(json!({"business_name": "X", "timezone": "UTC", "name": "X", "email": "x@example.com", "password": "short"}))).await;
    assert_eq!(r.code(), "validation_failed");

    // Tokens: missing, garbage, forged with another key, expired.
    let r = app.call(Method::GET, "/v1/customers", None, None).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNAUTHORIZED, "missing_token"));
    assert_eq!(app.get("/v1/customers", "garbage").await.code(), "invalid_token");
    let mut parts: Vec<String> = owner.access.split('.').map(str::to_owned).collect();
    parts[2] = "c2lnbmF0dXJlLWZyb20tc29tZW9uZS1lbHNl".into();
    assert_eq!(app.get("/v1/customers", &parts.join(".")).await.code(), "invalid_token");
    let other_key = switchboard_cloud::accounts::TokenKeys::new(&[9; 32], &app.config);
    let now = (app.now_ms() / 1000) as u64;
    let forged = other_key.sign(&owner.staff_id, &owner.business_id, "any", now, 600);
    assert_eq!(app.get("/v1/customers", &forged).await.code(), "invalid_token");
    let key = app.config.resolved_encryption_key().unwrap();
    let real_key = switchboard_cloud::accounts::TokenKeys::new(&key, &app.config);
    let session: String = sqlx::query_scalar("SELECT id FROM sessions WHERE staff_id = $1").bind(&owner.staff_id).fetch_one(app.db.reader()).await.unwrap();
    let valid = real_key.sign(&owner.staff_id, &owner.business_id, &session, now, 600);
    assert_eq!(app.get("/v1/customers", &valid).await.status, StatusCode::OK, "a token signed with the real key works");
    let expired = real_key.sign(&owner.staff_id, &owner.business_id, &session, now - 7200, 600);
    assert_eq!(app.get("/v1/customers", &expired).await.code(), "token_expired");

    let r = app.call(Method::GET, "/v1/nothing-here", None, None).await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "route_not_found"));
    let r = app.call(Method::PUT, "/v1/customers", Some(&owner.access), Some(json!({}))).await;
    assert_eq!((r.status, r.code()), (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"));

    assert_eq!(app.last_seq(&owner.business_id).await, seq, "nothing was written");
    let customers = app.get("/v1/customers", &owner.access).await;
    assert_eq!(customers.body["items"], json!([]));
}

async fn concurrent_writers_get_a_gap_free_commit_ordered_sequence(app: TestApp) {
    let owner = app.signup("seq").await;
    let start = app.last_seq(&owner.business_id).await;
    let writers = 40;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // A reader keeps checking that whatever is visible is a contiguous prefix: a later seq is
    // never visible before an earlier one commits.
    let observer = {
        let db = app.db.clone();
        let business = owner.business_id.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut checks = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let seqs: Vec<i64> = sqlx::query_scalar("SELECT seq FROM changes WHERE business_id = $1 AND seq > $2 ORDER BY seq")
                    .bind(&business).bind(start).fetch_all(db.reader()).await.unwrap();
                for (i, seq) in seqs.iter().enumerate() {
                    assert_eq!(*seq, start + 1 + i as i64, "a gap was visible: {seqs:?}");
                }
                checks += 1;
                tokio::task::yield_now().await;
            }
            checks
        })
    };
    let mut tasks = Vec::new();
    for i in 0..writers {
        let client = app.client.clone();
        let url = format!("{}/v1/customers", app.base);
        let token = owner.access.clone();
        tasks.push(tokio::spawn(async move {
            let r = client.post(url).bearer_auth(token).json(&json!({"name": format!("Writer {i}")})).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::CREATED);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(observer.await.unwrap() > 0);
    let changes = app.changes(&owner.business_id).await;
    let new: Vec<i64> = changes.iter().map(|c| c.0).filter(|s| *s > start).collect();
    assert_eq!(new, ((start + 1)..=(start + writers)).collect::<Vec<_>>());
    assert_eq!(app.last_seq(&owner.business_id).await, start + writers);
    let customers: BTreeSet<&str> = changes.iter().filter(|c| c.1 == "customer").map(|c| c.2.as_str()).collect();
    assert_eq!(customers.len(), writers as usize);
}

async fn login_is_rate_limited(app: TestApp) {
    let owner = app.signup("limit").await;
    let mut last = None;
    for _ in 0..app.config.login_attempts_per_account_per_minute {
        let r = app.call(Method::POST, "/v1/auth/login", None, Some(json!({"email": owner.email, "password": "wrong password"}))).await;
        assert_eq!(r.code(), "invalid_credentials");
        last = Some(r);
    }
    assert!(last.is_some());
    let r = app.call(Method::POST, "/v1/auth/login", None, Some(json!({"email": owner.email, "password": owner.password}))).await;
    assert_eq!((r.status, r.code()), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"), "{r:?}");
    assert!(r.headers.get("retry-after").is_some());
    // Another account from the same address is not yet limited.
    let other = app.signup("limit-other").await;
    let r = app.call(Method::POST, "/v1/auth/login", None, Some(json!({"email": other.email, "password": other.password}))).await;
    assert_eq!(r.status, StatusCode::OK);
}

async fn health_metrics_and_request_ids(app: TestApp) {
    let r = app.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["database"], if app.engine == Engine::Sqlite { "sqlite" } else { "postgres" });
    assert!(r.headers.get("x-request-id").is_some());
    let text = app.client.get(format!("{}/metrics", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(text.contains("switchboard_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"}"), "{text}");
    assert!(text.contains("switchboard_http_request_duration_seconds_bucket"));
    assert!(text.contains("switchboard_db_pool_connections{pool=\"writer\",state=\"idle\"}"));
}

}

/// The documented operations with a path parameter, and what the isolation walk sends them.
fn body_for(method: &Method, template: &str) -> Option<Value> {
    match (method.as_str(), template) {
        ("GET" | "DELETE", _) => None,
        ("PATCH", "/v1/notes/{id}") => Some(json!({"body": "changed"})),
        ("PATCH", "/v1/bookings/{id}") => Some(json!({"expected_version": 1, "notes": "changed"})),
        ("PUT", "/v1/staff/{id}/hours") => Some(json!({"hours": null, "bookable": false})),
        ("PUT", "/v1/media/{id}") => Some(json!({})),
        ("POST", "/v1/conversations/{id}/messages") => Some(json!({"body": "hello"})),
        ("POST", "/v1/conversations/{id}/takeover" | "/v1/conversations/{id}/handback" | "/v1/webhook-events/{id}/retry" | "/v1/staff/{id}/reset-sign-in" | "/v1/customers/{id}/erase") => Some(json!({})),
        ("POST", "/v1/conversations/{id}/template-messages") => Some(json!({"template_id": "any", "variables": []})),
        ("PATCH", _) => Some(json!({})),
        ("POST", "/v1/conversations/{id}/notes") => Some(json!({"body": "a note"})),
        ("POST", "/v1/staff/{id}/google-calendar/start") => Some(json!({"redirect_uri": "http://127.0.0.1:1/", "code_challenge": "c".repeat(43)})),
        ("POST", "/v1/staff/{id}/google-calendar/finish") => Some(json!({"state": "s", "code": "c", "code_verifier": "v"})),
        ("PUT", "/v1/staff/{id}/google-calendar/calendars") => Some(json!({"calendar_ids": []})),
        ("POST", "/v1/calendar-tasks/{id}/apply" | "/v1/calendar-tasks/{id}/dismiss") => Some(json!({})),
        (m, t) => panic!("the isolation walk has no body for {m} {t}; add one"),
    }
}

/// One of every resource that has an id route, keyed by the first path segment under /v1.
async fn seed_one_of_everything(app: &TestApp, t: &switchboard_testkit::Tenant) -> std::collections::BTreeMap<&'static str, String> {
    let id = |r: Reply| {
        assert!(r.status.is_success(), "{r:?}");
        r.body["id"].as_str().or(r.body["invitation"]["id"].as_str()).unwrap().to_owned()
    };
    let customer = id(app.post("/v1/customers", &t.access, json!({"name": "B's customer", "phone": "+14155552671"})).await);
    let conversation = id(app.post("/v1/conversations", &t.access, json!({"customer_id": customer, "channel": "sms"})).await);
    let note = id(app.post(&format!("/v1/conversations/{conversation}/notes"), &t.access, json!({"body": "B's note"})).await);
    let service = id(app.post("/v1/services", &t.access, json!({"name": "B's service", "duration_minutes": 30})).await);
    let canned = id(app.post("/v1/canned-responses", &t.access, json!({"shortcut": "b", "title": "B", "body": "B's reply"})).await);
    let invitation = id(app.post("/v1/invitations", &t.access, json!({"email": format!("inv-{}@example.com", switchboard_testkit::uuid_suffix()), "role": "agent"})).await);
    let exception = id(app.post("/v1/schedule-exceptions", &t.access, json!({"date": "2031-12-25", "closed": true})).await);
    let slot = app.get(&format!("/v1/availability?service_id={service}&limit=1"), &t.access).await;
    let start = slot.body["slots"][0]["start"].as_str().unwrap_or_else(|| panic!("no free slot: {slot:?}")).to_owned();
    let booking = id(app.post("/v1/bookings", &t.access, json!({"customer_id": customer, "service_id": service, "start": start})).await);
    let feed = app.post("/v1/calendar-feeds", &t.access, json!({"staff_id": t.staff_id})).await;
    assert!(feed.status.is_success(), "{feed:?}");
    let feed = feed.body["feed"]["id"].as_str().unwrap().to_owned();
    let template = id(app.post("/v1/whatsapp-templates", &t.access, json!({"name": "reminder", "language": "en_GB", "body": "See you {{1}}"})).await);
    let media = app.db.new_id::<String>();
    sqlx::query("INSERT INTO media (id, business_id, content_type, size, data, created_at) VALUES ($1, $2, 'image/png', 3, 'AAAA', 0)")
        .bind(&media).bind(&t.business_id).execute(app.db.writer()).await.unwrap();
    // A call with a recording (`/v1/calls/{id}/recording`).
    let call = app.db.new_id::<String>();
    sqlx::query(
        "INSERT INTO messages (id, business_id, conversation_id, direction, author_kind, body, delivery_status, created_at, updated_at, kind, raw) \
         VALUES ($1, $2, $3, 'inbound', 'customer', 'Call ended', 'received', 0, 0, 'call', $4)",
    )
    .bind(&call).bind(&t.business_id).bind(&conversation)
    .bind(r#"{"provider":"vapi","call_id":"b","status":"ended","recording_url":"http://127.0.0.1:9/b.wav"}"#)
    .execute(app.db.writer()).await.unwrap();
    // A webhook that failed for good (as intake leaves one after its retries).
    let event = app.db.new_id::<String>();
    sqlx::query(
        "INSERT INTO webhook_events (id, provider, business_id, event_key, payload, received_at, next_attempt_at, attempts, last_error, failed_at) \
         VALUES ($1, 'whatsapp', $2, $1, '{}', 0, 0, 12, 'broken', 1)",
    )
    .bind(&event).bind(&t.business_id).execute(app.db.writer()).await.unwrap();
    // An outside change of one of B's Google Calendar events, waiting for a decision.
    let task = app.db.new_id::<String>();
    sqlx::query(
        "INSERT INTO calendar_tasks (id, business_id, staff_id, booking_id, kind, message, status, created_at) VALUES ($1, $2, $3, $4, 'deleted', 'deleted', 'open', 0)",
    )
    .bind(&task).bind(&t.business_id).bind(&t.staff_id).bind(&booking).execute(app.db.writer()).await.unwrap();
    [
        ("calendar-tasks", task),
        ("customers", customer),
        ("conversations", conversation),
        ("notes", note),
        ("services", service),
        ("canned-responses", canned),
        ("invitations", invitation),
        ("schedule-exceptions", exception),
        ("bookings", booking),
        ("calendar-feeds", feed),
        ("whatsapp-templates", template),
        ("media", media),
        ("calls", call),
        ("webhook-events", event),
        ("staff", t.staff_id.clone()),
    ]
    .into_iter()
    .collect()
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

/// Every documented operation is served, and nothing is served without documentation: routes can
/// only be added through `OpenApiRouter::routes(routes!(…))`, which requires `#[utoipa::path]`.
#[tokio::test]
async fn openapi_documents_every_route_the_router_serves() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let doc = app.call(Method::GET, "/openapi.json", None, None).await.body;
    let paths = doc["paths"].as_object().unwrap();
    let mut operations = 0;
    for (template, item) in paths {
        let path = template.replace("{id}", "01900000-0000-7000-8000-000000000000");
        for method in item.as_object().unwrap().keys() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let r = app.call(method.clone(), &path, None, Some(json!({}))).await;
            assert!(!matches!(r.code(), "route_not_found" | "method_not_allowed"), "{method} {template} is documented but not served: {r:?}");
            operations += 1;
        }
    }
    assert!(operations >= 40, "only {operations} operations documented");
    for schema in ["ErrorBody", "Customer", "Conversation", "AuthTokens"] {
        assert!(doc["components"]["schemas"][schema].is_object(), "schema {schema} missing");
    }

    // The other direction: no route is registered around the documented router.
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut stack = vec![src];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("sandbox.rs") {
                // (sandbox.rs is a separate server standing in for Meta in the demo, not part of
                // the service's router.)
                let text = std::fs::read_to_string(&path).unwrap();
                for needle in [".route(", ".route_service(", ".nest(", ".nest_service("] {
                    assert!(!text.contains(needle), "{} registers a route with `{needle}`, bypassing the OpenAPI router", path.display());
                }
            }
        }
    }
    // And an undocumented path is not served.
    let r = app.call(Method::GET, "/v1/secret-admin", None, None).await;
    assert_eq!(r.code(), "route_not_found");
}

/// SQLite is set up so that an acknowledged write is durable and readers cannot write.
#[tokio::test]
async fn sqlite_is_configured_for_durability() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let writer = app.db.writer();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(writer).await.unwrap();
    assert_eq!(mode, "wal");
    let sync: i64 = sqlx::query_scalar("PRAGMA synchronous").fetch_one(writer).await.unwrap();
    assert_eq!(sync, 2, "synchronous=FULL");
    for pool in [app.db.writer(), app.db.reader()] {
        let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys").fetch_one(pool).await.unwrap();
        assert_eq!(fk, 1);
        let busy: i64 = sqlx::query_scalar("PRAGMA busy_timeout").fetch_one(pool).await.unwrap();
        assert!(busy >= 5000);
    }
    let refused = sqlx::query("UPDATE businesses SET name = 'x'").execute(app.db.reader()).await;
    assert!(refused.is_err(), "reader connections are read-only");
}

on_both_engines! {

spawn = |engine| TestApp::spawn_with(engine, |c| c.access_token_ttl_secs = 15 * 60);

/// An access token lives its 15 minutes by the service's clock, not the machine's; the refresh
/// token then gets a new one.
async fn an_access_token_expires_by_the_services_clock(app: TestApp) {
    let owner = app.signup("clock").await;
    app.advance(std::time::Duration::from_secs(15 * 60));
    assert_eq!(app.get("/v1/me", &owner.access).await.status, StatusCode::OK, "at its expiry, within the leeway");
    app.advance(std::time::Duration::from_secs(6));
    let r = app.get("/v1/me", &owner.access).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNAUTHORIZED, "token_expired"), "{r:?}");
    let refreshed = app.call(Method::POST, "/v1/auth/refresh", None, Some(json!({"refresh_token": owner.refresh}))).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{refreshed:?}");
    assert_eq!(refreshed.body["expires_in"], 900);
    let access = refreshed.body["access_token"].as_str().unwrap();
    assert_eq!(app.get("/v1/me", access).await.status, StatusCode::OK);
}
}
