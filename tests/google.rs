//! Connecting a staff member's Google Calendar from the console, as Settings does: the desk's
//! command makes the PKCE verifier, listens on loopback and asks the real service to start; "the
//! browser" follows the Google stand-in's consent redirect to that listener; the desk finishes
//! with the service. A refusal on Google's page comes back as a refusal, and nothing is left
//! waiting.

use console_core::credentials::Keep;
use console_core::desk::{Command as C, Desk};
use switchboard_testkit::google::{GoogleStandIn, PRIMARY};
use switchboard_testkit::{Engine, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_connects_google_calendar_through_its_loopback_listener() {
    // No real browser here: the test plays it.
    std::env::set_var(console_core::google::BROWSER_ENV, "none");
    let google = GoogleStandIn::start().await;
    let app = TestApp::spawn_live(Engine::Sqlite, |c| google.configure(c)).await;
    let owner = app.signup("gcal").await;
    let dir = tempfile::tempdir().unwrap();
    let desk = Desk::open(dir.path(), None, switchboard_tests::quick()).await.unwrap();
    desk.dispatch(C::SignIn { server: app.base.clone(), email: owner.email.clone(), password: owner.password.clone(), keep: Some(Keep::Session), passphrase: None })
        .await
        .expect("signed in for this session");

    let started = desk.dispatch(C::GoogleCalendarConnect { staff_id: owner.staff_id.clone() }).await.unwrap();
    assert_eq!(started["browser_opened"], false, "{started}");
    let auth_url = reqwest::Url::parse(started["auth_url"].as_str().unwrap()).unwrap();
    let param = |url: &reqwest::Url, name: &str| url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned()).unwrap_or_default();
    let redirect_uri = param(&auth_url, "redirect_uri");
    assert!(redirect_uri.starts_with("http://127.0.0.1:") && redirect_uri.ends_with("/google-calendar"), "{redirect_uri}");
    assert_eq!(param(&auth_url, "code_challenge_method"), "S256");

    // A stray request (a stale tab, someone else's state) does not end the wait or slip a code in.
    let stray = reqwest::get(format!("{redirect_uri}?state=not-ours&code=4/forged")).await.unwrap();
    assert_eq!(stray.status(), 404);
    // The browser: Google's page approves and redirects to the console's listener.
    let page = reqwest::get(auth_url.as_str()).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("close this tab"));
    let connection = desk.dispatch(C::GoogleCalendarWait { staff_id: owner.staff_id.clone() }).await.expect("connected");
    assert_eq!(connection["status"], "connected", "{connection}");
    let primary = connection["calendars"].as_array().unwrap().iter().find(|c| c["calendar_id"] == PRIMARY).expect("the primary calendar").clone();
    assert_eq!(primary["selected"], true, "{connection}");
    assert!(!connection.to_string().contains("token"), "no tokens in what the console gets: {connection}");
    // The service holds it too (Settings reads it from there).
    let shown = desk.dispatch(C::Settings { method: console_core::desk::SettingsMethod::Get, path: format!("/v1/staff/{}/google-calendar", owner.staff_id), body: None }).await.unwrap();
    assert_eq!(shown["status"], "connected");
    // Nothing is left waiting.
    let none = desk.dispatch(C::GoogleCalendarWait { staff_id: owner.staff_id.clone() }).await.unwrap_err();
    assert_eq!(none.kind, "invalid", "{none:?}");

    // Declined on Google's page: the wait ends with a refusal, in words.
    let started = desk.dispatch(C::GoogleCalendarConnect { staff_id: owner.staff_id.clone() }).await.unwrap();
    let auth_url = reqwest::Url::parse(started["auth_url"].as_str().unwrap()).unwrap();
    let declined = reqwest::get(format!("{}?state={}&error=access_denied", param(&auth_url, "redirect_uri"), param(&auth_url, "state"))).await.unwrap();
    assert_eq!(declined.status(), 200);
    let refused = desk.dispatch(C::GoogleCalendarWait { staff_id: owner.staff_id.clone() }).await.unwrap_err();
    assert_eq!(refused.kind, "refused", "{refused:?}");
    assert!(refused.message.contains("not completed") && refused.message.contains("access_denied"), "{refused:?}");

    // A staff id that is not one cannot steer the request elsewhere.
    let bad = desk.dispatch(C::GoogleCalendarConnect { staff_id: "../customers".into() }).await.unwrap_err();
    assert_eq!(bad.kind, "invalid");
    desk.stop().await;
}
