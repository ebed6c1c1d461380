//! First run (issue 16, point 7) through the console's command surface against the real service:
//! the sign-in screen creates a new business (the service's signup) and signs in as its owner;
//! the setup's progress is kept by the service, so it survives a restart of the console and
//! follows the owner to another computer; steps are done, skipped and resumed; bad steps and
//! colleagues without the right are refused with stable codes and change nothing.

use console_core::credentials::Keep;
use console_core::desk::{Command, Desk, SettingsMethod};
use serde_json::{json, Value};
use switchboard_testkit::{on_both_engines, TestApp};
use switchboard_tests::quick;

fn settings(method: SettingsMethod, path: &str, body: Option<Value>) -> Command {
    Command::Settings { method, path: path.to_owned(), body }
}

/// `[(step, state)]` of a `GET /v1/setup` answer.
fn states(progress: &Value) -> Vec<(String, String)> {
    progress["steps"].as_array().unwrap().iter().map(|s| (s["step"].as_str().unwrap().to_owned(), s["state"].as_str().unwrap().to_owned())).collect()
}

fn expect(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect()
}

on_both_engines! {

spawn = TestApp::spawn;

async fn a_new_business_is_created_from_the_sign_in_screen_and_set_up_across_restarts_and_computers(app: TestApp) {
    console_core::credentials::use_mock_store();
    let (first, second) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let email = "nova@example.com".to_owned();
    let sign_up = |email: &str, zone: &str| Command::SignUp {
        server: app.base.clone(),
        business_name: "Nova Nails".into(),
        timezone: zone.into(),
        name: "Nova Owner".into(),
        email: email.into(),
        password: "nails all day".into(),
        keep: Some(Keep::File),
        passphrase: Some("a long passphrase".into()),
    };

    let desk = Desk::open(first.path(), None, quick()).await.unwrap();
    // A time zone the service does not know is refused before anything is kept.
    let refused = desk.dispatch(sign_up(&email, "Mars/Olympus")).await.unwrap_err();
    assert_eq!((refused.kind.as_str(), refused.code.as_deref()), ("refused", Some("validation_failed")), "{refused:?}");
    assert!(desk.dispatch(Command::Session).await.unwrap()["account"].is_null());

    let session = desk.dispatch(sign_up(&email, "Europe/Lisbon")).await.unwrap();
    assert_eq!(session["account"]["role"], "owner", "{session}");
    assert_eq!(session["account"]["email"], email.as_str());
    assert_eq!(session["keep"], "file");
    let business_id = session["account"]["business_id"].as_str().unwrap().to_owned();
    // The owner's name reaches the console with the first sync.
    desk.dispatch(Command::SyncNow).await.unwrap();
    assert_eq!(desk.dispatch(Command::Session).await.unwrap()["name"], "Nova Owner");

    let progress = desk.dispatch(settings(SettingsMethod::Get, "/v1/setup", None)).await.unwrap();
    assert_eq!(states(&progress), expect(&[("timezone", "todo"), ("hours", "todo"), ("services", "todo"), ("staff", "todo"), ("channel", "todo")]));
    assert_eq!(progress["complete"], false);

    // Time zone: changed and marked done; hours: skipped for now; services: done by adding one
    // (the data says so, no mark needed).
    let business = desk.dispatch(settings(SettingsMethod::Patch, "/v1/business", Some(json!({"timezone": "Europe/London"})))).await.unwrap();
    assert_eq!(business["timezone"], "Europe/London");
    desk.dispatch(settings(SettingsMethod::Patch, "/v1/setup", Some(json!({"step": "timezone", "state": "done"})))).await.unwrap();
    desk.dispatch(settings(SettingsMethod::Patch, "/v1/setup", Some(json!({"step": "hours", "state": "skipped"})))).await.unwrap();
    let service = desk.dispatch(settings(SettingsMethod::Post, "/v1/services", Some(json!({"name": "Gel manicure", "duration_minutes": 45})))).await.unwrap();
    assert_eq!(service["name"], "Gel manicure");
    let progress = desk.dispatch(settings(SettingsMethod::Get, "/v1/setup", None)).await.unwrap();
    assert_eq!(states(&progress), expect(&[("timezone", "done"), ("hours", "skipped"), ("services", "done"), ("staff", "todo"), ("channel", "todo")]));

    // A step that is not one, and a state that is not one: refused with their codes, nothing changes.
    let bad = desk.dispatch(settings(SettingsMethod::Patch, "/v1/setup", Some(json!({"step": "lunch", "state": "done"})))).await.unwrap_err();
    assert_eq!((bad.kind.as_str(), bad.code.as_deref()), ("refused", Some("validation_failed")), "{bad:?}");
    let bad = desk.dispatch(settings(SettingsMethod::Patch, "/v1/setup", Some(json!({"step": "staff", "state": "maybe"})))).await.unwrap_err();
    assert_eq!(bad.kind, "refused", "{bad:?}");
    assert_eq!(bad.code.as_deref(), Some("validation_failed"), "{bad:?}");

    // The console restarts: the sign-in waits for its passphrase, then the setup is where it was.
    desk.stop().await;
    drop(desk);
    let desk = Desk::open(first.path(), None, quick()).await.unwrap();
    let session = desk.dispatch(Command::Session).await.unwrap();
    assert_eq!((session["locked"].as_bool(), session["account"]["business_id"].as_str()), (Some(true), Some(business_id.as_str())), "{session}");
    desk.dispatch(Command::Unlock { passphrase: "a long passphrase".into() }).await.unwrap();
    let progress = desk.dispatch(settings(SettingsMethod::Get, "/v1/setup", None)).await.unwrap();
    assert_eq!(states(&progress), expect(&[("timezone", "done"), ("hours", "skipped"), ("services", "done"), ("staff", "todo"), ("channel", "todo")]));
    // An invitation sent in Settings counts for the staff step.
    let invited = desk.dispatch(settings(SettingsMethod::Post, "/v1/invitations", Some(json!({"email": "colleague@example.com", "role": "agent"})))).await.unwrap();
    assert!(invited["token"].is_string(), "{invited}");
    desk.stop().await;

    // The owner on another computer: the same progress; the skipped hours are resumed there.
    let other = Desk::open(second.path(), None, quick()).await.unwrap();
    other.dispatch(Command::SignIn { server: app.base.clone(), email: email.clone(), password: "nails all day".into(), code: None, keep: Some(Keep::Session), passphrase: None }).await.unwrap();
    let progress = other.dispatch(settings(SettingsMethod::Get, "/v1/setup", None)).await.unwrap();
    assert_eq!(states(&progress), expect(&[("timezone", "done"), ("hours", "skipped"), ("services", "done"), ("staff", "done"), ("channel", "todo")]));
    let resumed = other.dispatch(settings(SettingsMethod::Patch, "/v1/setup", Some(json!({"step": "hours", "state": "todo"})))).await.unwrap();
    assert_eq!(states(&resumed)[1], ("hours".to_owned(), "todo".to_owned()));
    other.dispatch(settings(SettingsMethod::Patch, "/v1/setup", Some(json!({"step": "hours", "state": "done"})))).await.unwrap();
    let last = other.dispatch(settings(SettingsMethod::Patch, "/v1/setup", Some(json!({"step": "channel", "state": "skipped"})))).await.unwrap();
    assert_eq!(last["complete"], true, "{last}");

    // An agent of the business may not see or change the setup.
    let owner = switchboard_testkit::Tenant {
        business_id: business_id.clone(),
        staff_id: session["account"]["staff_id"].as_str().unwrap().to_owned(),
        email: email.clone(),
        password: "nails all day".into(),
        access: app.login(&email, "nails all day").await,
        refresh: String::new(),
    };
    let agent = app.add_staff(&owner, "agent").await;
    assert_eq!(app.get("/v1/setup", &agent.access).await.status, 403);
    let patch = app.patch("/v1/setup", &agent.access, json!({"step": "channel", "state": "todo"})).await;
    assert_eq!((patch.status.as_u16(), patch.body["error"]["code"].as_str()), (403, Some("forbidden")), "{patch:?}");
    assert_eq!(app.get("/v1/setup", &owner.access).await.body["complete"], true);
    other.stop().await;

    // The same email again is refused as taken, and this computer keeps nothing.
    let third = tempfile::tempdir().unwrap();
    let again = Desk::open(third.path(), None, quick()).await.unwrap();
    let taken = again.dispatch(sign_up(&email, "Europe/London")).await.unwrap_err();
    assert_eq!(taken.code.as_deref(), Some("email_taken"), "{taken:?}");
    assert!(again.dispatch(Command::Session).await.unwrap()["account"].is_null());
}

}
