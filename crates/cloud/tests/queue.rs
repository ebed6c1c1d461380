//! The front desk's queue: when a customer started waiting for a person, assigning a
//! conversation to a colleague, labels on conversations and tags on customers (as console
//! mutations, applied once), the waiting target, on SQLite and PostgreSQL.

use reqwest::StatusCode;
use serde_json::{json, Value};
use switchboard_testkit::fakes::FakeProviders;
use switchboard_testkit::whatsapp::*;
use switchboard_testkit::{on_both_engines, TestApp};

fn oks(outcomes: &Value) -> Vec<bool> {
    outcomes.as_array().unwrap().iter().map(|o| o["ok"].as_bool().unwrap()).collect()
}

on_both_engines! {

spawn = |engine| spawn_with_fakes(engine, |_| {});

async fn assigning_labelling_and_tagging_from_consoles_apply_once_and_merge((app, _fake): (TestApp, FakeProviders)) {
    let owner = app.signup("queue").await;
    let sam = app.add_staff(&owner, "agent").await;
    let gone = app.add_staff(&owner, "agent").await;
    let stranger = app.signup("queue-other").await;
    let r = app.patch(&format!("/v1/staff/{}", gone.staff_id), &owner.access, json!({"active": false})).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    connect_whatsapp(&app, &owner, PHONE_ID, &app_secret(&owner)).await;
    // The assistant is off here: the customer's message leaves the conversation waiting.
    let conversation = whatsapp_customer(&app, &owner, "447911123490").await;
    let detail = app.get(&format!("/v1/conversations/{conversation}"), &owner.access).await.body;
    assert_eq!(detail["conversation"]["mode"], "needs_human");
    let customer = detail["customer"]["id"].as_str().unwrap().to_owned();
    let since = detail["conversation"]["needs_human_since"].as_str().expect("the hand-over time is shipped").to_owned();
    assert_eq!(detail["conversation"]["labels"], json!([]));

    let batch = json!({"client_id": "queue-laptop", "mutations": [
        {"id": 1, "name": "assign", "args": {"conversation_id": conversation, "staff_id": sam.staff_id}},
        {"id": 2, "name": "assign", "args": {"conversation_id": conversation, "staff_id": gone.staff_id}},
        {"id": 3, "name": "assign", "args": {"conversation_id": conversation, "staff_id": stranger.staff_id}},
        {"id": 4, "name": "label_conversation", "args": {"conversation_id": conversation, "add": ["vip", " wedding party "]}},
        {"id": 5, "name": "label_conversation", "args": {"conversation_id": conversation, "add": [""]}},
        {"id": 6, "name": "tag_customer", "args": {"customer_id": customer, "add": ["regular", "regular"]}},
        {"id": 7, "name": "tag_customer", "args": {"customer_id": customer, "add": ["x".repeat(51)]}},
    ]});
    let r = app.post("/v1/sync/push", &owner.access, batch.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let outcomes = r.body["outcomes"].clone();
    assert_eq!(oks(&outcomes), vec![true, false, false, true, false, true, false], "{outcomes}");
    let codes: Vec<&str> = [1, 2, 4, 6].iter().map(|&i| outcomes[i]["code"].as_str().unwrap()).collect();
    assert_eq!(codes, vec!["staff_inactive", "unknown_staff", "validation_failed", "validation_failed"]);
    assert!(outcomes[1]["message"].as_str().unwrap().contains("no longer on the staff"), "{}", outcomes[1]);
    assert_eq!(outcomes[3]["details"]["labels"], json!(["vip", "wedding party"]));
    // The answer was lost: the same batch again changes nothing and answers the same.
    let again = app.post("/v1/sync/push", &owner.access, batch).await;
    assert_eq!(again.body["outcomes"], outcomes);

    // Sam, offline meanwhile, removed `vip` and added `complaint`: both desks' labels stay.
    let r = app.post("/v1/sync/push", &sam.access, json!({"client_id": "sam-pc", "mutations": [
        {"id": 1, "name": "label_conversation", "args": {"conversation_id": conversation, "add": ["complaint"], "remove": ["vip"]}},
        {"id": 2, "name": "tag_customer", "args": {"customer_id": customer, "add": ["allergic to latex"]}},
        {"id": 3, "name": "tag_customer", "args": {"customer_id": customer, "remove": ["nonexistent"]}},
    ]})).await;
    assert_eq!(oks(&r.body["outcomes"]), vec![true, true, true], "{r:?}");
    let detail = app.get(&format!("/v1/conversations/{conversation}"), &owner.access).await.body;
    assert_eq!(detail["conversation"]["labels"], json!(["wedding party", "complaint"]));
    assert_eq!(detail["conversation"]["assignee_staff_id"], sam.staff_id.as_str());
    assert_eq!(detail["customer"]["tags"], json!(["regular", "allergic to latex"]));

    // Consoles get the labels with the conversation.
    let page = app.get("/v1/sync/pull?cursor=0&limit=500", &sam.access).await;
    let synced = page.body["changes"].as_array().unwrap().iter().find(|c| c["id"] == conversation.as_str()).unwrap().clone();
    assert_eq!(synced["data"]["labels"], json!(["wedding party", "complaint"]));
    assert_eq!(synced["data"]["needs_human_since"], since.as_str());

    // The inbox filters by label (the whole label, not a part of it).
    let ids = |r: &Value| r["items"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
    assert_eq!(ids(&app.get("/v1/conversations?label=complaint", &owner.access).await.body), vec![conversation.clone()]);
    assert_eq!(ids(&app.get("/v1/conversations?label=wedding%20party", &owner.access).await.body), vec![conversation.clone()]);
    assert!(ids(&app.get("/v1/conversations?label=vip", &owner.access).await.body).is_empty());
    assert!(ids(&app.get("/v1/conversations?label=compl", &owner.access).await.body).is_empty());
    assert!(ids(&app.get("/v1/conversations?label=%25", &owner.access).await.body).is_empty(), "a wildcard is just a character");
    // REST replaces the labels, with the same checks.
    let r = app.patch(&format!("/v1/conversations/{conversation}"), &owner.access, json!({"labels": (0..21).map(|i| format!("l{i}")).collect::<Vec<_>>()})).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"));
    let r = app.patch(&format!("/v1/conversations/{conversation}"), &owner.access, json!({"assignee_staff_id": gone.staff_id})).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "staff_inactive"));
    let unchanged = app.get(&format!("/v1/conversations/{conversation}"), &owner.access).await.body;
    assert_eq!(unchanged["conversation"]["labels"], json!(["wedding party", "complaint"]), "a refused change changes nothing");

    // The audit log says who assigned, labelled and tagged, without the words.
    let log = app.get("/v1/audit-log?limit=100", &owner.access).await.body;
    let entries = log["items"].as_array().unwrap();
    let find = |action: &str| entries.iter().filter(|e| e["action"] == action).cloned().collect::<Vec<_>>();
    let assigned = find("conversation.assigned");
    assert_eq!(assigned.len(), 1, "the replay and the refusals wrote nothing: {assigned:?}");
    assert_eq!((assigned[0]["actor_staff_id"].as_str(), assigned[0]["detail"]["assignee_staff_id"].as_str()), (Some(owner.staff_id.as_str()), Some(sam.staff_id.as_str())));
    let labelled = find("conversation.labelled");
    assert_eq!(labelled.len(), 2);
    assert!(labelled.iter().any(|e| e["detail"] == json!({"added": 1, "removed": 1}) && e["actor_staff_id"] == sam.staff_id.as_str()));
    let tagged = find("customer.tagged");
    assert_eq!(tagged.len(), 2, "removing a tag the customer lacks is no change: {tagged:?}");
    let text = log.to_string();
    assert!(!text.contains("complaint") && !text.contains("latex"), "no label or tag text in the audit log");

    // Taken over: no longer waiting.
    app.post(&format!("/v1/conversations/{conversation}/takeover"), &sam.access, json!({})).await;
    let held = app.get(&format!("/v1/conversations/{conversation}"), &owner.access).await.body;
    assert_eq!(held["conversation"]["needs_human_since"], Value::Null);
}

async fn the_waiting_target_is_a_business_setting((app, _fake): (TestApp, FakeProviders)) {
    let owner = app.signup("target").await;
    let agent = app.add_staff(&owner, "agent").await;
    assert_eq!(app.get("/v1/business", &owner.access).await.body["wait_target_minutes"], 5);
    let r = app.patch("/v1/business", &owner.access, json!({"wait_target_minutes": 12})).await;
    assert_eq!((r.status, r.body["wait_target_minutes"].as_u64()), (StatusCode::OK, Some(12)));
    for bad in [json!(0), json!(1441), json!(-3), json!("ten")] {
        let r = app.patch("/v1/business", &owner.access, json!({"wait_target_minutes": bad})).await;
        assert!(r.status.is_client_error() && !r.code().is_empty(), "{bad}: {r:?}");
    }
    assert_eq!(app.get("/v1/business", &owner.access).await.body["wait_target_minutes"], 12, "a refusal changes nothing");
    assert_eq!(app.patch("/v1/business", &agent.access, json!({"wait_target_minutes": 1})).await.status, StatusCode::FORBIDDEN);
    let page = app.get("/v1/sync/pull?cursor=0&limit=500", &agent.access).await;
    let business = page.body["changes"].as_array().unwrap().iter().find(|c| c["entity"] == "business").unwrap().clone();
    assert_eq!(business["data"]["wait_target_minutes"], 12, "consoles get it");
}

}
