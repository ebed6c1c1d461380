//! The local Google stand-in (`switchboard_testkit::google`) as a program, for the UI's
//! end-to-end story: it prints the settings that point a service at it, then serves until it is
//! stopped. Consent is given at once (the browser is redirected to the loopback address with a
//! code), as a person clicking "Allow" would, and change notifications go out as changes happen.
//!
//! A second address plays the person in Google Calendar: `POST /control/delete-first` deletes the
//! earliest event Switchboard wrote into the primary calendar and answers `{"booking_id": …}`
//! (404 when there is none). `POST /control/revoke` plays the person removing Switchboard's access
//! in their Google account and then adding an event: the change notification makes the service
//! call Google, which refuses the access token and then the refresh (`invalid_grant`).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use switchboard_testkit::google::{ours, GoogleStandIn, CLIENT_ID, CLIENT_SECRET, PRIMARY};

async fn delete_first(State(google): State<Arc<GoogleStandIn>>) -> (StatusCode, Json<Value>) {
    let mut written: Vec<_> = ours(&google.events(PRIMARY)).into_iter().filter(|(_, e)| !e.cancelled).collect();
    written.sort_by_key(|(_, e)| e.start());
    match written.first() {
        Some((booking_id, event)) => {
            google.delete_event(PRIMARY, &event.id);
            (StatusCode::OK, Json(json!({"booking_id": booking_id})))
        }
        None => (StatusCode::NOT_FOUND, Json(json!({"error": "no event of ours in the primary calendar"}))),
    }
}

async fn revoke(State(google): State<Arc<GoogleStandIn>>) -> StatusCode {
    google.revoke_refresh_tokens();
    google.add_event(PRIMARY, "2031-01-15T10:00:00Z", "2031-01-15T11:00:00Z", json!({}));
    StatusCode::NO_CONTENT
}

#[tokio::main]
async fn main() {
    let google = Arc::new(GoogleStandIn::start().await);
    google.deliver_immediately(true);
    let control = switchboard_testkit::serve(Router::new().route("/control/delete-first", post(delete_first)).route("/control/revoke", post(revoke)).with_state(google.clone())).await;
    println!("SWITCHBOARD_GOOGLE_CLIENT_ID={CLIENT_ID}");
    println!("SWITCHBOARD_GOOGLE_CLIENT_SECRET={CLIENT_SECRET}");
    println!("SWITCHBOARD_GOOGLE_API_BASE={}/calendar/v3", google.base);
    println!("SWITCHBOARD_GOOGLE_OAUTH_BASE={}", google.base);
    println!("control=http://{control}");
    println!("Google stand-in at {}", google.base);
    std::future::pending::<()>().await;
}
