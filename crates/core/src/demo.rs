//! The demo business behind `switchboard-cloud demo`: a hair salon with services, staff, customers
//! and a few conversations, so a newcomer sees a lived-in inbox at once. Seeding is idempotent.

use protocol::EntityKind;
use protocol::{AuthorKind, BookingSource, MessageKind, BookingStatus, Channel, CreateCustomer, DeliveryStatus, Direction, Role};

use crate::accounts::hash_password;
use crate::scheduling::bookings::NewBooking;
use crate::conversations::{add_message, open_for, NewMessage};
use crate::error::Error;
use crate::store::{Db};

/// The phone number id of the demo's sandbox WhatsApp number (see the service's `sandbox`).
pub const SANDBOX_PHONE_NUMBER_ID: &str = "100000000001";

pub const DEMO_EMAIL: &str = "owner@demo.switchboard.app";
pub const DEMO_PASSWORD: &str = "switchboard-demo";
pub const AGENT_EMAIL: &str = "frontdesk@demo.switchboard.app";
/// The demo's customer who gets a reminder soon after the demo starts, and answers it.
pub const REMINDED_WHATSAPP_ID: &str = "447911123401";
/// How long after seeding that reminder goes out (the sandbox number is connected by then).
pub const DEMO_REMINDER_AFTER_MS: i64 = 5_000;

pub struct DemoBusiness {
    pub business_id: String,
    pub created: bool,
}

/// Creates the demo business unless it exists.
pub async fn seed(db: &Db) -> Result<DemoBusiness, Error> {
    let existing: Option<String> = sqlx::query_scalar("SELECT business_id FROM staff WHERE email = $1")
        .bind(DEMO_EMAIL)
        .fetch_optional(db.reader())
        .await?;
    if let Some(business_id) = existing {
        return Ok(DemoBusiness { business_id, created: false });
    }
    let hash = hash_password(DEMO_PASSWORD.to_owned()).await?;
    let business_id = db.new_id::<String>();
    let now = db.now_ms();
    let mut tx = db.begin_business(&business_id).await?;
    sqlx::query(
        "INSERT INTO businesses (id, name, timezone, locale, currency, last_seq, created_at, updated_at, opening_hours, \
         min_notice_minutes, max_advance_days, slot_interval_minutes) \
         VALUES ($1, 'Bloom Hair Studio', 'Europe/London', 'en-GB', 'GBP', 0, $2, $2, $3, 60, 60, 15)",
    )
    .bind(&business_id)
    .bind(now)
    // Tuesday to Saturday, 09:00–18:00, Thursdays until 20:00 (as the canned reply says).
    .bind("[[],[[540,1080]],[[540,1080]],[[540,1200]],[[540,1080]],[[540,1080]],[]]")
    .execute(tx.conn())
    .await?;
    let business = crate::accounts::business::load(tx.conn(), &business_id).await?;
    tx.record(EntityKind::Business, &business_id, Some(&business)).await?;

    let mut staff_ids = Vec::new();
    for (name, email, role) in [("Maya Patel", DEMO_EMAIL, Role::Owner), ("Sam Okafor", AGENT_EMAIL, Role::Agent)] {
        let id = tx.new_id::<String>();
        sqlx::query(
            "INSERT INTO staff (id, business_id, name, email, password_hash, role, active, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7)",
        )
        .bind(&id)
        .bind(&business_id)
        .bind(name)
        .bind(email)
        .bind(&hash)
        .bind(role.as_str())
        .bind(now)
        .execute(tx.conn())
        .await?;
        let staff = crate::accounts::staff::load(tx.conn(), &business_id, &id).await?.ok_or_else(|| Error::NotFound("staff member"))?;
        tx.record(EntityKind::Staff, &id, Some(&staff)).await?;
        staff_ids.push(id);
    }

    let mut service_ids = Vec::new();
    for (name, minutes, price, after) in [("Women's cut & blow-dry", 60, 5500, 10), ("Men's cut", 30, 2800, 5), ("Full colour", 120, 9500, 15), ("Fringe trim", 15, 800, 0)] {
        let service = protocol::Service {
            id: tx.new_id::<String>().into(),
            business_id: business_id.clone().into(),
            name: name.into(),
            duration_minutes: minutes,
            price_cents: price,
            buffer_before_minutes: 0,
            buffer_after_minutes: after,
            active: true,
            staff_ids: vec![],
            min_notice_minutes: None,
            max_advance_days: None,
            slot_interval_minutes: None,
            created_at: protocol::Timestamp::UNIX_EPOCH,
            updated_at: protocol::Timestamp::UNIX_EPOCH,
        };
        service_ids.push(crate::catalog::services::save(&mut tx, &service, true).await?.id);
    }

    for (shortcut, title, body) in [
        ("hours", "Opening hours", "We're open Tuesday to Saturday, 9am to 6pm (Thursdays until 8pm)."),
        ("parking", "Parking", "There's free parking behind the studio — enter from Mill Lane."),
        ("thanks", "Thank you", "Thanks for getting in touch! See you soon at Bloom."),
    ] {
        let canned = protocol::CannedResponse {
            id: tx.new_id::<String>().into(),
            business_id: business_id.clone().into(),
            shortcut: shortcut.into(),
            title: title.into(),
            body: body.into(),
            created_at: protocol::Timestamp::UNIX_EPOCH,
            updated_at: protocol::Timestamp::UNIX_EPOCH,
        };
        crate::catalog::canned::save(&mut tx, &canned, true).await?;
    }

    let customers = [
        ("Olivia Brown", "+447911123401", Channel::Whatsapp, &["Hi! Do you have anything free on Saturday morning for a cut and blow-dry?"][..]),
        ("James Wilson", "+447911123402", Channel::Sms, &["Hello, can I move my appointment on Friday to next week?", "Same time if possible"][..]),
        ("Amelia Clarke", "+447911123403", Channel::Whatsapp, &["I'd like to speak to someone about a colour correction please"][..]),
    ];
    let mut customer_ids = Vec::new();
    for (minutes_ago, (name, phone, channel, lines)) in [(42i64, customers[0]), (17, customers[1]), (3, customers[2])] {
        let req = CreateCustomer { name: Some(name.into()), phone: Some(phone.into()), ..CreateCustomer::default() };
        let customer = protocol::Customer {
            id: tx.new_id::<String>().into(),
            business_id: business_id.clone().into(),
            name: req.name,
            phone: req.phone,
            whatsapp_id: (channel == Channel::Whatsapp).then(|| phone.trim_start_matches('+').to_owned()),
            email: None,
            tags: vec!["regular".into()],
            notes: String::new(),
            opted_out_sms: false,
            opted_out_whatsapp: false,
            created_at: protocol::Timestamp::UNIX_EPOCH,
            updated_at: protocol::Timestamp::UNIX_EPOCH,
        };
        let customer = crate::customers::save(&mut tx, &customer, true).await?;
        customer_ids.push(customer.id.clone());
        let conversation = open_for(&mut tx, &customer.id, channel).await?;
        let wants_a_person = lines.iter().any(|l| l.contains("speak to someone"));
        for (i, line) in lines.iter().enumerate() {
            add_message(
                &mut tx,
                &conversation.id,
                NewMessage {
                    id: None,
                    direction: Direction::Inbound,
                    kind: MessageKind::Text,
                    raw: None,
                    author_kind: AuthorKind::Customer,
                    author_staff_id: None,
                    body: (*line).into(),
                    media: vec![],
                    provider_message_id: Some(format!("demo-{}", db.new_id::<String>())),
                    delivery_status: DeliveryStatus::Received,
                    at_ms: Some(now - minutes_ago * 60_000 + i as i64 * 20_000),
                    automation: None,
                },
            )
            .await?;
        }
        if wants_a_person {
            crate::conversations::takeover::escalate(&mut tx, &conversation.id, "the customer asked for a person").await?;
        }
    }
    tx.commit().await?;

    // Two upcoming appointments, booked the way everything books.
    let now = db.now().as_jiff();
    let fortnight = jiff::Timestamp::from_millisecond(now.as_millisecond() + 14 * 86_400_000).map_err(Error::internal)?;
    for (customer, service, nth, source) in
        [(&customer_ids[1], &service_ids[1], 3, BookingSource::Staff), (&customer_ids[0], &service_ids[0], 9, BookingSource::Assistant)]
    {
        let mut conn = db.reader().acquire().await?;
        let svc = crate::catalog::services::load(&mut conn, &business_id, service).await?.ok_or_else(|| Error::NotFound("service"))?;
        let loaded = crate::scheduling::hours::load_for_service(&mut conn, &business_id, &svc, now, fortnight, false, None).await?;
        drop(conn);
        let Some(slot) = loaded.schedule.free_slots(&loaded.spec, None, now, fortnight, now, nth + 1, false).pop() else { continue };
        let new = NewBooking {
                    id: None,
            customer_id: customer.to_string(),
            service_id: service.to_string(),
            staff_id: None,
            start: slot.start,
            notes: String::new(),
            source,
            status: BookingStatus::Confirmed,
            created_by_staff_id: None,
        };
        let mut tx = db.begin_business(&business_id).await?;
        crate::scheduling::bookings::create(&mut tx, new).await?;
        tx.commit().await?;
    }

    // Reminders are on (the defaults). So that the demo shows one at once — and the simulated
    // customer's "C" confirming it (`sandbox::simulate`) — Olivia's first reminder is brought
    // forward to a few seconds from now, once the sandbox WhatsApp number is connected.
    let mut tx = db.begin_business(&business_id).await?;
    let first_reminder: Option<String> = sqlx::query_scalar(
        "SELECT r.id FROM automation_runs r JOIN bookings b ON b.id = r.booking_id AND b.business_id = r.business_id \
         WHERE r.business_id = $1 AND b.customer_id = $2 AND r.kind = 'reminder' AND r.status = 'planned' ORDER BY r.due_at LIMIT 1",
    )
    .bind(&business_id)
    .bind(customer_ids[0].as_str())
    .fetch_optional(tx.conn())
    .await?;
    if let Some(id) = first_reminder {
        sqlx::query("UPDATE automation_runs SET due_at = $1 WHERE id = $2").bind(tx.now_ms() + DEMO_REMINDER_AFTER_MS).bind(&id).execute(tx.conn()).await?;
        tx.wake(crate::workers::Job::Automations);
    }
    tx.commit_even_if_unchanged().await?;
    Ok(DemoBusiness { business_id, created: true })
}

/// Why the demo's sandbox channels could not be connected.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("could not sign in as the demo owner")]
    SignIn,
    #[error("the service did not answer: {0}")]
    Unreachable(#[from] reqwest::Error),
    #[error("{path}: {status}")]
    Refused { path: &'static str, status: reqwest::StatusCode },
}

/// Signs in as the demo owner and connects the sandbox WhatsApp number and a Vapi secret, through
/// the public API like a person would.
pub async fn connect_sandbox(service_url: &str, app_secret: &str, vapi_secret: &str) -> Result<(), SandboxError> {
    let http = reqwest::Client::new();
    // The service may still be starting.
    let mut token = None;
    for _ in 0..50 {
        let login = http
            .post(format!("{service_url}/v1/auth/login"))
            .json(&serde_json::json!({"email": DEMO_EMAIL, "password": DEMO_PASSWORD}))
            .send()
            .await;
        if let Ok(r) = login {
            if r.status().is_success() {
                let body: serde_json::Value = r.json().await?;
                token = body["access_token"].as_str().map(str::to_owned);
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let token = token.ok_or(SandboxError::SignIn)?;
    let whatsapp = serde_json::json!({"phone_number_id": SANDBOX_PHONE_NUMBER_ID, "display_phone_number": "+44 7911 000001",
        "access_token": "sandbox-token", "app_secret": app_secret, "verify_token": "sandbox-verify"});
    for (path, body) in [("/v1/channels/whatsapp", whatsapp), ("/v1/channels/vapi", serde_json::json!({"secret": vapi_secret}))] {
        let r = http.put(format!("{service_url}{path}")).bearer_auth(&token).json(&body).send().await?;
        if !r.status().is_success() {
            return Err(SandboxError::Refused { path, status: r.status() });
        }
    }
    Ok(())
}
