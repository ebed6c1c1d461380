//! The local Google stand-in (`switchboard_testkit::google`) as a program, for the UI's
//! end-to-end story: it prints the settings that point a service at it, then serves until it is
//! stopped. Consent is given at once (the browser is redirected to the loopback address with a
//! code), as a person clicking "Allow" would.

use switchboard_testkit::google::{GoogleStandIn, CLIENT_ID, CLIENT_SECRET};

#[tokio::main]
async fn main() {
    let google = GoogleStandIn::start().await;
    println!("SWITCHBOARD_GOOGLE_CLIENT_ID={CLIENT_ID}");
    println!("SWITCHBOARD_GOOGLE_CLIENT_SECRET={CLIENT_SECRET}");
    println!("SWITCHBOARD_GOOGLE_API_BASE={}/calendar/v3", google.base);
    println!("SWITCHBOARD_GOOGLE_OAUTH_BASE={}", google.base);
    println!("Google stand-in at {}", google.base);
    std::future::pending::<()>().await;
}
