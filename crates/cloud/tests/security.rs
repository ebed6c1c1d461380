//! Account security over real HTTP, on SQLite and PostgreSQL, with mail going through a real
//! SMTP server on loopback: two-factor sign-in (codes, replays, recovery codes, rate limits), the
//! "require two-factor" switch, an owner's reset of a colleague, password change and reset by
//! mail, email verification, invitations and new-device notices by mail, re-authentication
//! before sensitive actions, and what an admin set up ending with their rights.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use switchboard_cloud::accounts::security::current_code;
use switchboard_testkit::smtp::SmtpSink;
use switchboard_testkit::{on_both_engines, Reply, Tenant, TestApp};

async fn with_mail(engine: switchboard_testkit::Engine) -> (TestApp, SmtpSink) {
    let sink = SmtpSink::start().await;
    let url = sink.url.clone();
    let app = TestApp::spawn_with(engine, move |c| {
        c.smtp_url = Some(url.into());
        c.smtp_from = "Switchboard <desk@switchboard.test>".into();
        c.public_url = "https://desk.example".into();
    })
    .await;
    (app, sink)
}

async fn login(app: &TestApp, email: &str, password: &str, device: &str) -> Reply {
    let res = app
        .client
        .post(format!("{}/v1/auth/login", app.base))
        .header("user-agent", device)
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    Reply { status, headers, body }
}

async fn public(app: &TestApp, path: &str, body: Value) -> Reply {
    app.call(Method::POST, path, None, Some(body)).await
}

fn code(app: &TestApp, secret: &str) -> String {
    current_code(secret, app.now_ms()).expect("a base32 secret")
}

/// Turns two-factor on for `t`; returns the secret and the recovery codes.
async fn enable_two_factor(app: &TestApp, t: &Tenant) -> (String, Vec<String>) {
    let setup = app.post("/v1/me/two-factor", &t.access, json!(null)).await;
    assert_eq!(setup.status, StatusCode::OK, "{setup:?}");
    let secret = setup.body["secret"].as_str().unwrap().to_owned();
    assert!(setup.body["otpauth_url"].as_str().unwrap().starts_with("otpauth://totp/"));
    let confirmed = app.post("/v1/me/two-factor/confirm", &t.access, json!({"code": code(app, &secret)})).await;
    assert_eq!(confirmed.status, StatusCode::OK, "{confirmed:?}");
    let codes: Vec<String> = confirmed.body["recovery_codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned()).collect();
    assert_eq!(codes.len(), 10);
    (secret, codes)
}

on_both_engines! {

spawn = with_mail;

/// Two-factor sign-in: the password gives a challenge, a code a session; a code's time step is
/// never accepted twice; recovery codes work once; a challenge takes five wrong codes.
async fn two_factor_sign_in((app, _sink): (TestApp, SmtpSink)) {
    let owner = app.signup("otp").await;
    let (secret, recovery) = enable_two_factor(&app, &owner).await;
    let security = app.get("/v1/me/security", &owner.access).await;
    assert_eq!((security.body["two_factor_enabled"].as_bool(), security.body["recovery_codes_left"].as_i64()), (Some(true), Some(10)));

    let first = login(&app, &owner.email, &owner.password, "laptop").await;
    assert_eq!((first.status, first.code()), (StatusCode::UNAUTHORIZED, "two_factor_required"), "{first:?}");
    assert!(first.body.get("access_token").is_none());
    let challenge = first.body["error"]["details"]["challenge"].as_str().unwrap().to_owned();
    // The code that confirmed enrolment is spent: the same step is refused.
    let replay = public(&app, "/v1/auth/two-factor", json!({"challenge": challenge, "code": code(&app, &secret)})).await;
    assert_eq!((replay.status, replay.code()), (StatusCode::UNAUTHORIZED, "invalid_code"));
    app.advance(Duration::from_secs(30));
    let now_code = code(&app, &secret);
    let signed_in = public(&app, "/v1/auth/two-factor", json!({"challenge": challenge, "code": now_code})).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{signed_in:?}");
    assert_eq!(app.get("/v1/me", signed_in.body["access_token"].as_str().unwrap()).await.status, StatusCode::OK);
    // The challenge worked once; the code too.
    assert_eq!(public(&app, "/v1/auth/two-factor", json!({"challenge": challenge, "code": now_code})).await.code(), "link_invalid");
    let again = login(&app, &owner.email, &owner.password, "laptop").await.body["error"]["details"]["challenge"].as_str().unwrap().to_owned();
    assert_eq!(public(&app, "/v1/auth/two-factor", json!({"challenge": again, "code": now_code})).await.code(), "invalid_code");

    // A recovery code signs in once.
    let used = public(&app, "/v1/auth/two-factor", json!({"challenge": again, "code": recovery[0]})).await;
    assert_eq!(used.status, StatusCode::OK, "{used:?}");
    let third = login(&app, &owner.email, &owner.password, "laptop").await.body["error"]["details"]["challenge"].as_str().unwrap().to_owned();
    assert_eq!(public(&app, "/v1/auth/two-factor", json!({"challenge": third, "code": recovery[0]})).await.code(), "invalid_code");
    let left = app.get("/v1/me/security", used.body["access_token"].as_str().unwrap()).await;
    assert_eq!(left.body["recovery_codes_left"], 9);

    // Five wrong codes and the challenge is gone, even for the right code. (A minute on first:
    // codes are guesses at the account like passwords, and this minute's ten are spent.)
    app.advance(Duration::from_secs(60));
    for _ in 0..4 {
        assert_eq!(public(&app, "/v1/auth/two-factor", json!({"challenge": third, "code": "000000"})).await.code(), "invalid_code");
    }
    app.advance(Duration::from_secs(30));
    assert_eq!(public(&app, "/v1/auth/two-factor", json!({"challenge": third, "code": code(&app, &secret)})).await.code(), "link_invalid");
    // A challenge expires.
    let fourth = login(&app, &owner.email, &owner.password, "laptop").await.body["error"]["details"]["challenge"].as_str().unwrap().to_owned();
    app.advance(Duration::from_secs(6 * 60));
    assert_eq!(public(&app, "/v1/auth/two-factor", json!({"challenge": fourth, "code": code(&app, &secret)})).await.code(), "link_expired");
}

/// Requiring two-factor signs out everyone without it; they must enrol at their next sign-in.
/// An owner's reset of a colleague turns their two-factor off, ends their sessions and mails a
/// one-time link; all of it is audited.
async fn require_two_factor_and_owner_reset((app, sink): (TestApp, SmtpSink)) {
    let owner = app.signup("req").await;
    let agent = app.add_staff(&owner, "agent").await;
    let refused = app.call(Method::PUT, "/v1/security-settings", Some(&owner.access), Some(json!({"require_two_factor": true}))).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "the owner has no two-factor yet: {refused:?}");
    enable_two_factor(&app, &owner).await;
    assert_eq!(app.call(Method::PUT, "/v1/security-settings", Some(&agent.access), Some(json!({"require_two_factor": true}))).await.status, StatusCode::FORBIDDEN);
    let on = app.call(Method::PUT, "/v1/security-settings", Some(&owner.access), Some(json!({"require_two_factor": true}))).await;
    assert_eq!(on.body, json!({"require_two_factor": true}), "{on:?}");
    assert_eq!(app.get("/v1/me", &agent.access).await.code(), "session_revoked");
    assert_eq!(app.get("/v1/me", &owner.access).await.status, StatusCode::OK);

    let locked = login(&app, &agent.email, &agent.password, "desk").await;
    assert_eq!((locked.status, locked.code()), (StatusCode::FORBIDDEN, "two_factor_enrolment_required"), "{locked:?}");
    let challenge = locked.body["error"]["details"]["challenge"].as_str().unwrap().to_owned();
    let setup = public(&app, "/v1/auth/two-factor/enrol", json!({"challenge": challenge})).await;
    let secret = setup.body["secret"].as_str().unwrap().to_owned();
    assert_eq!(public(&app, "/v1/auth/two-factor/enrol/confirm", json!({"challenge": challenge, "code": "123456"})).await.code(), "invalid_code");
    let enrolled = public(&app, "/v1/auth/two-factor/enrol/confirm", json!({"challenge": challenge, "code": code(&app, &secret)})).await;
    assert_eq!(enrolled.status, StatusCode::CREATED, "{enrolled:?}");
    assert_eq!(enrolled.body["recovery_codes"].as_array().unwrap().len(), 10);
    let agent_token = enrolled.body["tokens"]["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.get("/v1/me/security", &agent_token).await.body["two_factor_enabled"], true);
    // Turning it off is refused while the business requires it.
    assert_eq!(app.delete("/v1/me/two-factor", &agent_token).await.status, StatusCode::FORBIDDEN);

    // The agent lost their phone: the owner resets them.
    assert_eq!(app.post(&format!("/v1/staff/{}/reset-sign-in", owner.staff_id), &agent_token, json!(null)).await.status, StatusCode::FORBIDDEN);
    let reset = app.post(&format!("/v1/staff/{}/reset-sign-in", agent.staff_id), &owner.access, json!(null)).await;
    assert_eq!(reset.body, json!({"mailed": true, "link": null}), "{reset:?}");
    assert_eq!(app.get("/v1/me", &agent_token).await.code(), "session_revoked");
    app.drain().await;
    let mail = sink.to(&agent.email).into_iter().find(|m| m.subject.contains("reset")).expect("the reset mail arrived");
    assert!(mail.link().unwrap().starts_with("https://desk.example/reset-password?token="), "{mail:?}");
    let token = mail.token().unwrap();
    let done = public(&app, "/v1/auth/password-reset/confirm", json!({"token": token, "new_password": "a brand new password"})).await;
    assert_eq!(done.status, StatusCode::NO_CONTENT, "{done:?}");
    assert_eq!(public(&app, "/v1/auth/password-reset/confirm", json!({"token": token, "new_password": "yet another password"})).await.code(), "link_invalid");
    // Two-factor was cleared, and the business still requires it: enrol again.
    assert_eq!(login(&app, &agent.email, "a brand new password", "desk").await.code(), "two_factor_enrolment_required");
    let log = app.get("/v1/audit-log?limit=200", &owner.access).await;
    let actions: Vec<&str> = log.body["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    for action in ["security.updated", "two_factor.enabled", "staff.sign_in_reset", "password.reset"] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
}

/// Changing the password asks for the current one and ends every other session; a reset link
/// arrives by mail, works once and expires; unknown addresses get the same answer and no mail.
async fn password_change_and_reset_by_mail((app, sink): (TestApp, SmtpSink)) {
    let owner = app.signup("pw").await;
    let other_session = app.login(&owner.email, &owner.password).await;
    let wrong = app.post("/v1/me/password", &owner.access, json!({"current_password": "not it at all", "new_password": "the next password"})).await;
    assert_eq!((wrong.status, wrong.code()), (StatusCode::UNAUTHORIZED, "invalid_credentials"));
    let short = app.post("/v1/me/password", &owner.access, json!({"current_password": owner.password, "new_password": "short"})).await;
    assert_eq!(short.code(), "validation_failed");
    let changed = app.post("/v1/me/password", &owner.access, json!({"current_password": owner.password, "new_password": "the next password"})).await;
    assert_eq!(changed.status, StatusCode::NO_CONTENT, "{changed:?}");
    assert_eq!(app.get("/v1/me", &other_session).await.code(), "session_revoked");
    assert_eq!(app.get("/v1/me", &owner.access).await.status, StatusCode::OK);
    assert_eq!(login(&app, &owner.email, &owner.password, "x").await.code(), "invalid_credentials");

    assert_eq!(public(&app, "/v1/auth/password-reset", json!({"email": "nobody@example.com"})).await.status, StatusCode::ACCEPTED);
    assert_eq!(public(&app, "/v1/auth/password-reset", json!({"email": owner.email.to_uppercase()})).await.status, StatusCode::ACCEPTED);
    app.drain().await;
    assert!(sink.to("nobody@example.com").is_empty());
    let first = sink.to(&owner.email).into_iter().filter(|m| m.subject.contains("Reset")).collect::<Vec<_>>();
    assert_eq!(first.len(), 1, "{:?}", sink.mails());
    app.advance(Duration::from_secs(61 * 60));
    let late = public(&app, "/v1/auth/password-reset/confirm", json!({"token": first[0].token().unwrap(), "new_password": "third password here"})).await;
    assert_eq!((late.status, late.code()), (StatusCode::GONE, "link_expired"));
    public(&app, "/v1/auth/password-reset", json!({"email": owner.email})).await;
    app.drain().await;
    let second = sink.to(&owner.email).into_iter().filter(|m| m.subject.contains("Reset")).last().unwrap();
    let ok = public(&app, "/v1/auth/password-reset/confirm", json!({"token": second.token().unwrap(), "new_password": "third password here"})).await;
    assert_eq!(ok.status, StatusCode::NO_CONTENT, "{ok:?}");
    assert_eq!(app.get("/v1/me", &owner.access).await.code(), "session_revoked", "a reset ends every session");
    assert_eq!(login(&app, &owner.email, "third password here", "x").await.status, StatusCode::OK);
}

/// New owners verify their address by mail; invitations and sign-ins from a new device are mailed.
async fn verification_invitation_and_new_device_mail((app, sink): (TestApp, SmtpSink)) {
    let owner = app.signup("mail").await;
    assert_eq!(app.get("/v1/me/security", &owner.access).await.body["email_verified"], false);
    app.drain().await;
    let verify = sink.to(&owner.email).into_iter().find(|m| m.subject.contains("Confirm")).expect("a verification mail");
    assert_eq!(verify.from, "desk@switchboard.test");
    assert!(verify.link().unwrap().starts_with("https://desk.example/verify-email?token="));
    assert_eq!(public(&app, "/v1/auth/verify-email", json!({"token": verify.token().unwrap()})).await.status, StatusCode::NO_CONTENT);
    assert_eq!(public(&app, "/v1/auth/verify-email", json!({"token": verify.token().unwrap()})).await.code(), "link_invalid");
    assert_eq!(app.get("/v1/me/security", &owner.access).await.body["email_verified"], true);

    let invited = app.post("/v1/invitations", &owner.access, json!({"email": "newbie@example.com", "role": "agent"})).await;
    assert_eq!(invited.status, StatusCode::CREATED);
    app.drain().await;
    let invitation = sink.to("newbie@example.com").pop().expect("the invitation mail");
    assert!(invitation.subject.contains("mail Studio"), "{invitation:?}");
    let accepted = public(&app, "/v1/auth/accept-invitation", json!({"token": invitation.token().unwrap(), "name": "Newbie", "password": "newbie password"})).await;
    assert_eq!(accepted.status, StatusCode::CREATED, "the mailed link works: {accepted:?}");

    assert_eq!(login(&app, &owner.email, &owner.password, "Firefox on Linux").await.status, StatusCode::OK);
    assert_eq!(login(&app, &owner.email, &owner.password, "Firefox on Linux").await.status, StatusCode::OK);
    app.drain().await;
    let notices = sink.to(&owner.email).into_iter().filter(|m| m.subject.contains("New sign-in")).collect::<Vec<_>>();
    assert_eq!(notices.len(), 1, "one notice for the new device, none for the known one");
    assert!(notices[0].body.contains("Firefox on Linux"));
}

/// Sensitive actions need a recent sign-in or re-authentication.
async fn sensitive_actions_need_a_recent_reauthentication((app, _sink): (TestApp, SmtpSink)) {
    let owner = app.signup("reauth").await;
    let (secret, _) = enable_two_factor(&app, &owner).await;
    app.advance(Duration::from_secs(16 * 60));
    let vapi = json!({"secret": "vapi-secret-123"});
    let stale = app.call(Method::PUT, "/v1/channels/vapi", Some(&owner.access), Some(vapi.clone())).await;
    assert_eq!((stale.status, stale.code()), (StatusCode::FORBIDDEN, "reauthentication_required"), "{stale:?}");
    assert_eq!(app.delete("/v1/me/two-factor", &owner.access).await.code(), "reauthentication_required");
    assert_eq!(app.get("/v1/channels", &owner.access).await.body["items"], json!([]), "nothing changed");
    let wrong = app.post("/v1/me/reauthenticate", &owner.access, json!({"password": "not the password"})).await;
    // A wrong password is said to be the password (it was reported as a wrong code).
    assert_eq!((wrong.status, wrong.code(), wrong.body["error"]["message"].as_str()), (StatusCode::UNAUTHORIZED, "invalid_credentials", Some("That password is not right.")));
    let by_code = app.post("/v1/me/reauthenticate", &owner.access, json!({"code": code(&app, &secret)})).await;
    assert_eq!(by_code.status, StatusCode::NO_CONTENT, "{by_code:?}");
    assert!(app.get("/v1/me/security", &owner.access).await.body["reauthenticated_until"].is_string());
    assert_eq!(app.call(Method::PUT, "/v1/channels/vapi", Some(&owner.access), Some(vapi)).await.status, StatusCode::OK);
    assert_eq!(app.delete("/v1/me/two-factor", &owner.access).await.status, StatusCode::NO_CONTENT);
    assert_eq!(login(&app, &owner.email, &owner.password, "x").await.status, StatusCode::OK, "two-factor is off");
}

}

/// Without SMTP an owner's reset hands the link over instead of mailing it.
#[tokio::test]
async fn without_smtp_the_reset_link_is_handed_over() {
    let app = TestApp::spawn(switchboard_testkit::Engine::Sqlite).await;
    let owner = app.signup("nomail").await;
    let agent = app.add_staff(&owner, "agent").await;
    let reset = app.post(&format!("/v1/staff/{}/reset-sign-in", agent.staff_id), &owner.access, json!(null)).await;
    assert_eq!(reset.body["mailed"], false, "{reset:?}");
    let link = reset.body["link"].as_str().unwrap();
    let token = link.split("token=").nth(1).unwrap();
    let done = public(&app, "/v1/auth/password-reset/confirm", json!({"token": token, "new_password": "handed over password"})).await;
    assert_eq!(done.status, StatusCode::NO_CONTENT);
    assert_eq!(app.login(&agent.email, "handed over password").await.is_empty(), false);
}

/// `by` invites someone as `role` and, re-authenticated, resets `target`'s sign-in (without SMTP
/// the link is handed over): the invitation's token and the reset link's token.
async fn invite_and_reset(app: &TestApp, by: &Tenant, role: &str, target: &Tenant) -> (String, String) {
    let email = format!("accomplice-{}@example.com", switchboard_testkit::uuid_suffix());
    let invited = app.post("/v1/invitations", &by.access, json!({"email": email, "role": role})).await;
    assert_eq!(invited.status, StatusCode::CREATED, "{invited:?}");
    let reauth = app.post("/v1/me/reauthenticate", &by.access, json!({"password": by.password})).await;
    assert_eq!(reauth.status, StatusCode::NO_CONTENT, "{reauth:?}");
    let reset = app.post(&format!("/v1/staff/{}/reset-sign-in", target.staff_id), &by.access, json!(null)).await;
    assert_eq!(reset.body["mailed"], false, "{reset:?}");
    let link = reset.body["link"].as_str().unwrap();
    (invited.body["token"].as_str().unwrap().to_owned(), link.split("token=").nth(1).unwrap().to_owned())
}

async fn accept(app: &TestApp, token: &str) -> Reply {
    public(app, "/v1/auth/accept-invitation", json!({"token": token, "name": "Accomplice", "password": "accomplice password"})).await
}

async fn use_reset_link(app: &TestApp, token: &str) -> Reply {
    public(app, "/v1/auth/password-reset/confirm", json!({"token": token, "new_password": "a password someone else chose"})).await
}

/// A request from `client`, as the trusted proxy on the loopback address forwards it.
async fn via(app: &TestApp, client: &str, path: &str, body: Value) -> Reply {
    let res = app.client.post(format!("{}{path}", app.base)).header("x-forwarded-for", client).json(&body).send().await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    Reply { status, headers, body }
}

fn challenge_of(r: &Reply) -> String {
    r.body["error"]["details"]["challenge"].as_str().unwrap_or_else(|| panic!("a challenge: {r:?}")).to_owned()
}

on_both_engines! {

spawn = TestApp::spawn;

/// No privilege is kept after it is taken away: deactivating an admin, or taking away their right
/// to manage staff, withdraws the invitations they sent and the sign-in reset links they made for
/// colleagues, at once; an owner made an admin loses the owner invitations they sent (only owners
/// make owners). What others made still works.
async fn what_a_removed_admin_set_up_stops_working(app: TestApp) {
    let owner = app.signup("removed").await;
    let co_owner = app.add_staff(&owner, "owner").await;
    let leaver = app.add_staff(&owner, "admin").await;
    let demoted = app.add_staff(&owner, "admin").await;
    let agents = [app.add_staff(&owner, "agent").await, app.add_staff(&owner, "agent").await, app.add_staff(&owner, "agent").await];

    let (leavers_invitation, leavers_link) = invite_and_reset(&app, &leaver, "admin", &agents[0]).await;
    let (demoteds_invitation, demoteds_link) = invite_and_reset(&app, &demoted, "admin", &agents[1]).await;
    let (owners_invitation, owners_link) = invite_and_reset(&app, &owner, "admin", &agents[2]).await;
    let co_owners_owner = app.post("/v1/invitations", &co_owner.access, json!({"email": "next-owner@example.com", "role": "owner"})).await;
    let co_owners_agent = app.post("/v1/invitations", &co_owner.access, json!({"email": "next-agent@example.com", "role": "agent"})).await;
    assert_eq!((co_owners_owner.status, co_owners_agent.status), (StatusCode::CREATED, StatusCode::CREATED));

    let off = app.patch(&format!("/v1/staff/{}", leaver.staff_id), &owner.access, json!({"active": false})).await;
    assert_eq!(off.status, StatusCode::OK, "{off:?}");
    let down = app.patch(&format!("/v1/staff/{}", demoted.staff_id), &owner.access, json!({"role": "agent"})).await;
    assert_eq!(down.status, StatusCode::OK, "{down:?}");
    let admin_now = app.patch(&format!("/v1/staff/{}", co_owner.staff_id), &owner.access, json!({"role": "admin"})).await;
    assert_eq!(admin_now.status, StatusCode::OK, "{admin_now:?}");

    for token in [&leavers_invitation, &demoteds_invitation, co_owners_owner.body["token"].as_str().unwrap()] {
        let refused = accept(&app, token).await;
        assert_eq!((refused.status, refused.code()), (StatusCode::NOT_FOUND, "invitation_invalid"), "{refused:?}");
    }
    for token in [&leavers_link, &demoteds_link] {
        let refused = use_reset_link(&app, token).await;
        assert_eq!(refused.code(), "link_invalid", "{refused:?}");
    }
    // The withdrawn invitations are gone from the list; the others are still open.
    let open: Vec<String> = app
        .all_items("/v1/invitations", &owner.access)
        .await
        .iter()
        .filter(|i| i["accepted_at"].is_null())
        .map(|i| i["email"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(open.len(), 2, "the owner's and the co-owner's agent invitation: {open:?}");
    assert!(open.contains(&"next-agent@example.com".to_owned()), "{open:?}");

    // What the owner made, and the agent invitation an admin may still send, work.
    assert_eq!(accept(&app, &owners_invitation).await.status, StatusCode::CREATED);
    assert_eq!(accept(&app, co_owners_agent.body["token"].as_str().unwrap()).await.status, StatusCode::CREATED);
    assert_eq!(use_reset_link(&app, &owners_link).await.status, StatusCode::NO_CONTENT);
    assert!(!app.login(&agents[2].email, "a password someone else chose").await.is_empty());
}

}

on_both_engines! {

spawn = |e| TestApp::spawn_guessable(e, 6);

/// Second-factor codes are guesses at an account like passwords are: with the password, many
/// addresses share the account's soft limit for their codes too (429 `rate_limited`,
/// `Retry-After`), and an address becomes one the limit spares only by signing in fully (password
/// and code), so the owner's desk still gets in while the guessers wait.
async fn second_factor_guesses_are_limited_per_account(app: TestApp) {
    let owner = app.signup("guessed").await;
    let (secret, recovery) = enable_two_factor(&app, &owner).await;
    // The step that confirmed two-factor is spent; the next one signs in.
    app.advance(Duration::from_secs(30));
    let password = json!({"email": owner.email, "password": owner.password});
    let desk = "198.51.100.7";
    let first = via(&app, desk, "/v1/auth/login", password.clone()).await;
    let signed_in = via(&app, desk, "/v1/auth/two-factor", json!({"challenge": challenge_of(&first), "code": code(&app, &secret)})).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{signed_in:?}");
    // An address that got only as far as the second step.
    let halfway = "203.0.113.200";
    assert_eq!(via(&app, halfway, "/v1/auth/login", password.clone()).await.code(), "two_factor_required");

    // Twenty addresses with the password guess codes. The account's five attempts this minute
    // were the desk's two, the half-way address's one, and one attacker's sign-in and one code.
    let mut checked = 0;
    let mut refused = None;
    for n in 0..20 {
        let client = format!("203.0.113.{n}");
        let step = via(&app, &client, "/v1/auth/login", password.clone()).await;
        if step.status == StatusCode::TOO_MANY_REQUESTS {
            continue;
        }
        let challenge = challenge_of(&step);
        for _ in 0..5 {
            let guess = via(&app, &client, "/v1/auth/two-factor", json!({"challenge": challenge, "code": "000000"})).await;
            if guess.status == StatusCode::TOO_MANY_REQUESTS {
                refused = Some(guess);
                break;
            }
            assert_eq!(guess.code(), "invalid_code", "{guess:?}");
            checked += 1;
        }
    }
    assert_eq!(checked, 1, "wrong codes checked in the minute");
    let refused = refused.expect("a code refused by the limit");
    assert_eq!(refused.code(), "rate_limited", "{refused:?}");
    assert_eq!(refused.headers.get("retry-after").map(|v| v.to_str().unwrap()), Some("12"));
    let again = via(&app, halfway, "/v1/auth/login", password.clone()).await;
    assert_eq!(again.code(), "rate_limited", "the password alone does not make an address known: {again:?}");

    // The owner's desk signed in fully before: the spent limit spares it.
    let step = via(&app, desk, "/v1/auth/login", password.clone()).await;
    assert_eq!(step.code(), "two_factor_required", "{step:?}");
    let back = via(&app, desk, "/v1/auth/two-factor", json!({"challenge": challenge_of(&step), "code": recovery[0]})).await;
    assert_eq!(back.status, StatusCode::OK, "{back:?}");
}

}
