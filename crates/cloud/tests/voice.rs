//! Voice calls through Vapi and Retell, in their documented payload shapes, with valid and
//! invalid authentication, on SQLite and PostgreSQL.

use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::Sha256;
use switchboard_testkit::{on_both_engines, every_day, Tenant, TestApp};

const CALLER: &str = "+14155550142";

async fn setup(app: &TestApp, label: &str) -> (Tenant, String) {
    let owner = app.signup(label).await;
    let week = every_day("00:00", "24:00");
    app.patch("/v1/schedule", &owner.access, json!({"opening_hours": week, "min_notice_minutes": 0})).await;
    let service = app.post("/v1/services", &owner.access, json!({"name": "Haircut", "duration_minutes": 30})).await.body["id"].as_str().unwrap().to_owned();
    (owner, service)
}

async fn post(app: &TestApp, path: &str, body: &Value, headers: &[(&str, String)]) -> (StatusCode, Value) {
    let mut req = app.client.post(format!("{}{path}", app.base)).header("content-type", "application/json").body(body.to_string());
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn retell_signature(key: &str, body: &Value, at_ms: i64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(body.to_string().as_bytes());
    mac.update(at_ms.to_string().as_bytes());
    format!("v={at_ms},d={}", mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect::<String>())
}

fn vapi_call() -> Value {
    json!({"id": "call-vapi-1", "type": "inboundPhoneCall", "customer": {"number": CALLER}})
}

async fn timeline(app: &TestApp, t: &Tenant) -> Vec<Value> {
    let customers = app.get(&format!("/v1/customers?q={}", &CALLER[1..]), &t.access).await;
    let customer = customers.body["items"][0]["id"].as_str().unwrap().to_owned();
    let conversations = app.get(&format!("/v1/conversations?customer_id={customer}"), &t.access).await;
    let mut all = Vec::new();
    for c in conversations.body["items"].as_array().unwrap() {
        let page = app.get(&format!("/v1/conversations/{}/messages", c["id"].as_str().unwrap()), &t.access).await;
        all.extend(page.body["items"].as_array().unwrap().iter().cloned());
    }
    all
}

on_both_engines! {

spawn = TestApp::spawn;

async fn vapi_tool_calls_book_and_calls_land_in_the_timeline(app: TestApp) {
    let (owner, service) = setup(&app, "vapi").await;
    let r = app.call(reqwest::Method::PUT, "/v1/channels/vapi", Some(&owner.access), Some(json!({"secret": "vapi-secret-1"}))).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let path = format!("/webhooks/vapi/{}", owner.business_id);
    let bearer = [("authorization", "Bearer vapi-secret-1".to_owned())];
    let tomorrow = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::get("Europe/London").unwrap()).date().tomorrow().unwrap();

    // Current shape: toolCallList with object arguments.
    let body = json!({"message": {"type": "tool-calls", "call": vapi_call(), "toolCallList": [
        {"id": "tc1", "type": "function", "function": {"name": "list_services", "arguments": {}}},
        {"id": "tc2", "type": "function", "function": {"name": "find_free_slots", "arguments": {"service_id": service, "date": tomorrow.to_string()}}}]}});
    let (status, answer) = post(&app, &path, &body, &bearer).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["results"][0]["toolCallId"], "tc1");
    assert!(answer["results"][0]["result"].as_str().unwrap().contains("Haircut"));
    let free: Value = serde_json::from_str(answer["results"][1]["result"].as_str().unwrap()).unwrap();
    let start = free["free"][0]["start"].as_str().unwrap().to_owned();

    // Older shape: toolWithToolCallList, arguments as JSON text; the x-vapi-secret header.
    let body = json!({"message": {"type": "tool-calls", "call": vapi_call(), "toolWithToolCallList": [{"type": "function",
        "function": {"name": "book"}, "toolCall": {"id": "tc3", "function": {"name": "book",
        "arguments": json!({"service_id": service, "start": start, "customer_confirmed": true}).to_string()}}}]}});
    let (status, answer) = post(&app, &path, &body, &[("x-vapi-secret", "vapi-secret-1".to_owned())]).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(answer["results"][0]["result"].as_str().unwrap().contains("\"booked\":true"), "{answer}");
    let bookings = app.get("/v1/bookings", &owner.access).await.body["items"].clone();
    assert_eq!((bookings[0]["source"].as_str(), bookings[0]["start"].as_str()), (Some("voice"), Some(start.as_str())));

    // Wrong secret: refused, nothing done.
    let (status, _) = post(&app, &path, &body, &[("authorization", "Bearer nope".to_owned())]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = post(&app, &path, &body, &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.all_items("/v1/bookings", &owner.access).await.len(), 1);

    // The call shows live, then its report fills it in.
    let (status, _) = post(&app, &path, &json!({"message": {"type": "status-update", "status": "in-progress", "call": vapi_call()}}), &bearer).await;
    assert_eq!(status, StatusCode::OK);
    let live = timeline(&app, &owner).await;
    let call = live.iter().find(|m| m["kind"] == "call").expect("a live call");
    assert_eq!((call["body"].as_str(), call["call"]["status"].as_str()), (Some("Call in progress…"), Some("in_progress")));
    let report = json!({"message": {"type": "end-of-call-report", "call": vapi_call(), "endedReason": "customer-ended-call", "durationSeconds": 93.6,
        "analysis": {"summary": "Booked a haircut for tomorrow."}, "artifact": {"transcript": "AI: Hello! User: I'd like a haircut.", "recordingUrl": "https://storage.vapi.ai/rec-1.wav"}}});
    let (status, _) = post(&app, &path, &report, &bearer).await;
    assert_eq!(status, StatusCode::OK);
    // Redelivered: still one call.
    post(&app, &path, &report, &bearer).await;
    let after = timeline(&app, &owner).await;
    let calls: Vec<&Value> = after.iter().filter(|m| m["kind"] == "call").collect();
    assert_eq!(calls.len(), 1);
    let c = &calls[0]["call"];
    assert_eq!((c["status"].as_str(), c["duration_seconds"].as_u64(), c["ended_reason"].as_str()), (Some("ended"), Some(94), Some("customer-ended-call")));
    assert_eq!(c["recording_url"], "https://storage.vapi.ai/rec-1.wav");
    assert!(c["transcript"].as_str().unwrap().contains("haircut"));
    assert_eq!(calls[0]["body"], "Booked a haircut for tomorrow.");

    // A web call (no number) is one caller for the whole call: its tool calls, status and report
    // land in one conversation, on one line (each event made a customer and a conversation).
    // A number the numbering plans do not know (a range kept for drama) is still the caller's.
    for (call_id, customer) in [("call-web-1", json!({})), ("call-drama-1", json!({"number": "+447700900777"}))] {
        let call = json!({"id": call_id, "type": "webCall", "customer": customer});
        let tools = json!({"message": {"type": "tool-calls", "call": call, "toolCallList": [{"id": "tc9", "type": "function", "function": {"name": "list_services", "arguments": {}}}]}});
        for event in [
            tools.clone(),
            json!({"message": {"type": "status-update", "status": "in-progress", "call": call}}),
            tools,
            json!({"message": {"type": "end-of-call-report", "call": call, "endedReason": "customer-ended-call", "analysis": {"summary": "Asked what we offer."}}}),
        ] {
            let (status, answer) = post(&app, &path, &event, &bearer).await;
            assert_eq!(status, StatusCode::OK, "{answer}");
        }
    }
    let customers = app.all_items("/v1/customers", &owner.access).await;
    assert_eq!(customers.len(), 3, "the first caller, the web caller, the drama number: {customers:?}");
    assert!(customers.iter().any(|c| c["phone"] == "+447700900777"), "{customers:?}");
    let voice = app.all_items("/v1/conversations?channel=voice", &owner.access).await;
    assert_eq!(voice.len(), 3, "{voice:?}");
    let mut reported = 0;
    for conversation in &voice {
        let lines = app.all_items(&format!("/v1/conversations/{}/messages", conversation["id"].as_str().unwrap()), &owner.access).await;
        let calls: Vec<&Value> = lines.iter().filter(|m| m["kind"] == "call").collect();
        assert_eq!(calls.len(), 1, "one line per call: {lines:?}");
        if calls[0]["body"] == "Asked what we offer." {
            assert_eq!(calls[0]["call"]["status"], "ended", "{:?}", calls[0]);
            reported += 1;
        }
    }
    assert_eq!(reported, 2, "both calls' reports on their own line");
}

async fn retell_events_functions_and_the_inbound_webhook(app: TestApp) {
    let (owner, service) = setup(&app, "retell").await;
    let key = "key_retell_webhook_badge";
    let r = app.call(reqwest::Method::PUT, "/v1/channels/retell", Some(&owner.access), Some(json!({"api_key": key}))).await;
    assert_eq!(r.status, StatusCode::OK);
    let path = format!("/webhooks/retell/{}", owner.business_id);
    let now = app.db.now_ms();
    let call = json!({"call_id": "call_r1", "from_number": CALLER, "to_number": "+14155550100", "direction": "inbound"});

    let started = json!({"event": "call_started", "call": call});
    let (status, _) = post(&app, &path, &started, &[("x-retell-signature", retell_signature(key, &started, now))]).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // Stale and forged signatures are refused.
    let (status, body) = post(&app, &path, &started, &[("x-retell-signature", retell_signature(key, &started, now - 10 * 60_000))]).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("stale_signature")));
    let (status, _) = post(&app, &path, &started, &[("x-retell-signature", retell_signature("another key", &started, now))]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // A custom function: book through the same tools.
    let start = app.get(&format!("/v1/availability?service_id={service}&limit=1"), &owner.access).await.body["slots"][0]["start"].as_str().unwrap().to_owned();
    let function = json!({"name": "book", "args": {"service_id": service, "start": start, "customer_confirmed": true}, "call": call});
    let (status, result) = post(&app, &path, &function, &[("x-retell-signature", retell_signature(key, &function, now))]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(result["booked"], true, "{result}");

    // The next call from the same number: the inbound webhook knows them.
    app.patch(&format!("/v1/customers/{}", app.get("/v1/customers", &owner.access).await.body["items"][0]["id"].as_str().unwrap()), &owner.access, json!({"name": "Rita Caller"})).await;
    let inbound = json!({"event": "call_inbound", "call_inbound": {"agent_id": "agent_1", "from_number": CALLER, "to_number": "+14155550100"}});
    let (status, answer) = post(&app, &path, &inbound, &[("x-retell-signature", retell_signature(key, &inbound, now))]).await;
    assert_eq!(status, StatusCode::OK);
    let vars = &answer["call_inbound"]["dynamic_variables"];
    assert_eq!(vars["customer_name"], "Rita Caller");
    assert!(vars["next_booking"].as_str().unwrap().starts_with("Haircut on "), "{answer}");

    let analyzed = json!({"event": "call_analyzed", "call": {"call_id": "call_r1", "from_number": CALLER, "to_number": "+14155550100", "direction": "inbound",
        "transcript": "Agent: Hi! User: Book me in.", "recording_url": "https://retell.example/rec.wav", "duration_ms": 61_400,
        "disconnection_reason": "user_hangup", "call_analysis": {"call_summary": "Caller booked a haircut."}}});
    let (status, _) = post(&app, &path, &analyzed, &[("x-retell-signature", retell_signature(key, &analyzed, now))]).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let calls: Vec<Value> = timeline(&app, &owner).await.into_iter().filter(|m| m["kind"] == "call").collect();
    assert_eq!(calls.len(), 1);
    assert_eq!((calls[0]["call"]["duration_seconds"].as_u64(), calls[0]["body"].as_str()), (Some(61), Some("Caller booked a haircut.")));
    // A length no call has (it overflowed: a 500) is taken as no length; what was known stays.
    let absurd = json!({"event": "call_ended", "call": {"call_id": "call_r1", "from_number": CALLER, "duration_ms": u64::MAX}});
    let (status, _) = post(&app, &path, &absurd, &[("x-retell-signature", retell_signature(key, &absurd, now))]).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let calls: Vec<Value> = timeline(&app, &owner).await.into_iter().filter(|m| m["kind"] == "call").collect();
    assert_eq!((calls.len(), calls[0]["call"]["duration_seconds"].as_u64()), (1, Some(61)));
    // A hand-off during a call: the conversation waits for a person; no text goes into the call.
    let handoff = json!({"name": "hand_off", "args": {"reason": "caller wants the owner"}, "call": call});
    let (status, result) = post(&app, &path, &handoff, &[("x-retell-signature", retell_signature(key, &handoff, now))]).await;
    assert_eq!((status, result["done"].as_bool()), (StatusCode::OK, Some(true)), "{result}");
    let voice = app.get("/v1/conversations?channel=voice", &owner.access).await;
    assert_eq!(voice.body["items"][0]["mode"], "needs_human");
    assert!(timeline(&app, &owner).await.iter().all(|m| m["author_kind"] != "assistant"), "no holding text into a call");
    let (status, _) = post(&app, &path, &json!({"hello": 1}), &[("x-retell-signature", retell_signature(key, &json!({"hello": 1}), now))]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

}
