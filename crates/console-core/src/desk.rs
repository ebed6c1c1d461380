//! The front desk's command surface: every question the console's UI asks and every action it
//! takes, as one typed [`Command`], answered by [`Desk::dispatch`] with JSON or a [`DeskError`]
//! (`{kind, message}`). The Tauri shell forwards `invoke("console", {command})` here; the UI
//! bridge (`switchboard-console serve-ui`) forwards `POST /invoke` here, so the browser end-to-end
//! run drives exactly the code the window does. Events (batched changes, status, presence,
//! typing, alerts) come from [`Desk::subscribe`]. The TypeScript types of all of it are generated
//! from these definitions (ts-rs), never written twice.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use protocol::{CalendarTask, CannedResponse, EntityKind, FinishGoogleCalendar, GoogleCalendarAuthStart, Service, Staff, StartGoogleCalendar, WhatsappTemplate};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::{broadcast, Mutex, RwLock};
use ts_rs::TS;

use crate::alerts::Notifier;
use crate::credentials::Keep;
use crate::privacy;
use crate::queries::InboxQuery;
use crate::{Account, Console, ConsoleError, EngineConfig, Event, Status, SyncHandle};

/// Everything the UI can ask. Tagged by `cmd` (`{"cmd": "take_over", "conversation_id": "…"}`).
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(tag = "cmd", rename_all = "snake_case", deny_unknown_fields)]
#[ts(export)]
pub enum Command {
    /// Who is signed in here, and the sync status. → [`Session`]
    Session,
    /// Where the sign-in is kept: `keyring` (the default; refused as `no_keyring` where the OS
    /// keyring does not work), `file` (encrypted with `passphrase`) or `session`. → [`Session`]
    SignIn {
        server: String,
        email: String,
        password: String,
        /// The authenticator app's code (or a recovery code) when the account has two-factor
        /// sign-in; without it such a sign-in is refused with the code `two_factor_required`.
        #[serde(default)]
        code: Option<String>,
        #[serde(default)]
        keep: Option<Keep>,
        #[serde(default)]
        passphrase: Option<String>,
    },
    /// Signing in where the business requires two-factor and this account has none yet (the
    /// sign-in was refused as `two_factor_enrolment_required`): the password again buys a new
    /// authenticator secret and its QR code. → [`TwoFactorEnrolment`](crate::privacy::TwoFactorEnrolment)
    SignInEnrol { server: String, email: String, password: String },
    /// Finishes that sign-in with a code from the new secret: two-factor is on, this console is
    /// signed in. → [`EnrolledSession`] (the recovery codes, shown this once)
    SignInEnrolConfirm {
        code: String,
        #[serde(default)]
        keep: Option<Keep>,
        #[serde(default)]
        passphrase: Option<String>,
    },
    /// Creates a new business (the service's signup: its name and IANA time zone, the owner's
    /// name, email and password) and signs in as its owner, keeping the sign-in as `SignIn`
    /// does. The first-run setup follows (`/v1/setup` through `Settings`). → [`Session`]
    SignUp {
        server: String,
        business_name: String,
        timezone: String,
        name: String,
        email: String,
        password: String,
        #[serde(default)]
        keep: Option<Keep>,
        #[serde(default)]
        passphrase: Option<String>,
    },
    /// Opens a sign-in kept in an encrypted file (after a restart). → [`Session`]
    Unlock { passphrase: String },
    /// Signs out and forgets this person's data on this computer. Refused (`unsent`, with how
    /// many) while actions made here wait to be sent, unless `discard`.
    /// → `{"service_told": bool}` (`false`: offline, the sign-in stays valid on the service until
    /// it expires)
    SignOut {
        #[serde(default)]
        discard: bool,
    },
    /// → `InboxPage`
    Inbox { query: InboxQuery },
    /// → `Timeline | null`
    Timeline { conversation_id: String },
    /// → `CustomerProfile | null`
    Customer { customer_id: String },
    /// One customer's whole history across channels (messages, calls, notes, bookings), oldest
    /// first, the newest `limit` (default 300). → `CustomerTimeline | null`
    CustomerTimeline { customer_id: String, limit: Option<u32> },
    /// Customers whose name, number or email match. → `Customer[]`
    FindCustomers { text: String },
    /// Bookings overlapping `[from, to)` (RFC 3339 instants). → `CalendarEntry[]`
    Calendar { from: String, to: String },
    /// Staff, services, canned responses and WhatsApp templates, for pickers. → [`Directory`]
    Directory,
    /// Free times for a service (asks the service; needs the network). → `Availability`
    Slots { service_id: String, from: String, to: String, staff_id: Option<String> },
    /// Can the service be booked at exactly `start` (with `staff_id`; `booking_id`: the booking
    /// being moved, whose own time does not count)? Asks the service, which decides with
    /// everything it knows (hours, exceptions, buffers, every booking); offline it is `offline`
    /// and the booking is queued for the service to decide. → `AvailabilityCheck`
    CheckSlot { service_id: String, start: String, staff_id: Option<String>, booking_id: Option<String> },
    /// Conversations waiting for a person (the tray's count). → number
    NeedsHumanCount,
    /// Owners' and admins' settings, straight to the service's REST API under `/v1/` (needs the
    /// network; the service checks the role): hours, exceptions, services, staff, invitations,
    /// canned responses, the assistant, channels, templates, the business. → the API's answer
    Settings { method: SettingsMethod, path: String, body: Option<Value> },
    /// The business's audit log, newest first (owners and admins; needs the network). → `Page<AuditEntry>`
    AuditLog { cursor: Option<String>, limit: Option<u32> },
    /// Starts connecting a staff member's Google Calendar: listens on a loopback port, asks the
    /// service to start (PKCE), and opens Google's page in the system browser. → [`GoogleCalendarConnecting`]
    GoogleCalendarConnect { staff_id: String },
    /// Waits (up to ten minutes) until the browser comes back and the service has finished
    /// connecting. → `CalendarConnection`
    GoogleCalendarWait { staff_id: String },
    /// Bookings moved or deleted in Google Calendar, waiting for the front desk (synced). → `CalendarTask[]`
    CalendarTasks,
    /// The owner's figures for a range of local days, beside the previous period (owners and
    /// admins; needs the network — offline, the last figures fetched come back with `offline`).
    /// → [`ReportAnswer`](crate::reports::ReportAnswer)
    Report { filter: crate::reports::ReportFilter },
    /// Exactly the conversations or bookings behind a figure (`previous`: of the previous
    /// period). → `ReportRows`
    ReportRows {
        filter: crate::reports::ReportFilter,
        figure: protocol::ReportFigure,
        #[serde(default)]
        previous: bool,
    },
    /// A CSV export: one row per conversation episode or per booking of the period (or only
    /// those behind `figure`). → [`ReportCsv`](crate::reports::ReportCsv)
    ReportCsv {
        export: crate::reports::ReportExport,
        filter: crate::reports::ReportFilter,
        #[serde(default)]
        figure: Option<protocol::ReportFigure>,
    },
    /// How the signed-in person's account is protected (needs the network). → `AccountSecurity`
    AccountSecurity,
    /// Confirms the password (or a current two-factor code) again; sensitive actions (export,
    /// erase, two-factor changes, a colleague's reset, the require switch) then work for a few
    /// minutes. Needs the network: offline it fails as `offline`. → null
    Reauthenticate {
        #[serde(default)]
        password: Option<String>,
        #[serde(default)]
        code: Option<String>,
    },
    /// A new password (the current one is asked again); every other session ends. → null
    ChangePassword { current_password: String, new_password: String },
    /// Starts turning two-factor sign-in on. → [`TwoFactorEnrolment`](crate::privacy::TwoFactorEnrolment)
    TwoFactorBegin,
    /// Turns it on with a code from the app. → `RecoveryCodes` (shown this once)
    TwoFactorConfirm { code: String },
    /// Turns two-factor sign-in off (after a re-authentication). → null
    TwoFactorDisable,
    /// The business's sign-in rules. → `SecuritySettings`
    SecuritySettings,
    /// Owners: require two-factor sign-in of everyone (after a re-authentication). → `SecuritySettings`
    RequireTwoFactor { require: bool },
    /// Owners and admins: a colleague lost their device or password (after a re-authentication).
    /// → `Handover` (the link to hand over when the service has no mail)
    ResetStaffSignIn { staff_id: String },
    /// Owners and admins: everything held about a customer, as a ZIP to save (after a
    /// re-authentication). → [`CustomerExport`](crate::privacy::CustomerExport)
    ExportCustomer { who: crate::privacy::ExportWho },
    /// Owners and admins: erases a customer everywhere (after a re-authentication); this
    /// console's mirror and search drop them with the sync this starts. → removed rows by table
    EraseCustomer { customer_id: String },
    /// How long the business keeps conversations and recordings. → `RetentionPolicy`
    Retention,
    /// → `RetentionPolicy`
    SetRetention { policy: protocol::RetentionPolicy },
    /// Exactly what the daily retention job would delete now, with the mirror's names for it.
    /// → [`RetentionPreview`](crate::privacy::RetentionPreview)
    RetentionDryRun,
    SendMessage { conversation_id: String, body: String },
    /// Attaches a file (base64) with an optional caption; refused at once, in plain words, when
    /// the conversation's channel does not take it. Offline like a reply. → `Queued`
    Attach {
        conversation_id: String,
        filename: String,
        content_type: String,
        data_base64: String,
        #[serde(default)]
        caption: String,
    },
    /// A file the timeline links (`media[].url`, or `/v1/calls/{id}/recording`), from this
    /// computer's copy when there is one (offline too), else from the service.
    /// → [`MediaData`](crate::media::MediaData)
    Media { path: String },
    /// A picture's small copy (at most 320×240) for the timeline, made by the console core when
    /// the file was kept; `null` when the file has none (show the file itself).
    /// → [`MediaThumbnail`](crate::media::MediaThumbnail) or `null`
    Thumbnail { path: String },
    UseCannedResponse { conversation_id: String, canned_response_id: String },
    SendTemplate { conversation_id: String, template_id: String, variables: Vec<String> },
    TakeOver { conversation_id: String },
    HandBack { conversation_id: String },
    MarkRead { conversation_id: String },
    /// `open` or `resolved`.
    SetStatus { conversation_id: String, status: String },
    /// Whose job the conversation is (`null`: nobody's); the colleague gets a notification.
    Assign { conversation_id: String, staff_id: Option<String> },
    /// Adds and removes labels on a conversation.
    LabelConversation {
        conversation_id: String,
        #[serde(default)]
        add: Vec<String>,
        #[serde(default)]
        remove: Vec<String>,
    },
    /// Adds and removes a customer's tags.
    TagCustomer {
        customer_id: String,
        #[serde(default)]
        add: Vec<String>,
        #[serde(default)]
        remove: Vec<String>,
    },
    /// Every label on a conversation here, for the inbox's filter. → `string[]`
    Labels,
    AddNote { conversation_id: String, body: String },
    /// A new customer (a walk-in, someone who phoned). → `Queued` (`created_id`: the customer)
    CreateCustomer { customer: protocol::CreateCustomer },
    /// Writes first to a customer: on WhatsApp (`whatsapp`, `twilio_whatsapp`) an approved
    /// template, on `sms` a `body`. → `Queued` (`created_id`: the conversation)
    StartConversation {
        customer_id: String,
        channel: String,
        body: Option<String>,
        template_id: Option<String>,
        #[serde(default)]
        variables: Vec<String>,
    },
    CreateBooking { customer_id: String, service_id: String, start: String, staff_id: Option<String> },
    RescheduleBooking {
        booking_id: String,
        #[ts(type = "number")]
        expected_version: i64,
        start: String,
        staff_id: Option<String>,
    },
    CancelBooking {
        booking_id: String,
        #[ts(type = "number")]
        expected_version: i64,
        reason: Option<String>,
    },
    /// Staff record that the customer said they will come (a call, at the counter): the booking
    /// becomes confirmed. Queued like every change (so it works offline, shows at once as
    /// pending, and is applied exactly once when the service is reachable); a booking changed
    /// meanwhile comes back refused (`version_conflict`), shown on the booking. → `Queued`
    ConfirmBooking {
        booking_id: String,
        #[ts(type = "number")]
        expected_version: i64,
    },
    /// A conversation's automated messages (follow-ups and what stopped them, missed-call
    /// text-backs, replies): sent, or not sent and why (needs the network). → `AutomationRun[]`
    ConversationAutomations { conversation_id: String },
    /// What is waiting to be sent and what was refused. → `OutboxEntry[]`
    Outbox,
    /// Queues a refused action again (at the end of the queue). → null
    Retry {
        #[ts(type = "number")]
        mutation_id: i64,
    },
    /// Drops a refused action. → null
    Discard {
        #[ts(type = "number")]
        mutation_id: i64,
    },
    /// Tells colleagues which conversation is open here (`null`: none).
    Viewing { conversation_id: Option<String> },
    Typing { conversation_id: String },
    /// Push and pull now.
    SyncNow,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum SettingsMethod {
    Get,
    Post,
    Patch,
    Put,
    Delete,
}

/// What settings may reach: the business's configuration, not its customers or conversations
/// (those go through the outbox, so they work offline and are never applied twice).
const SETTINGS: [&str; 15] =
    ["/v1/setup", "/v1/webhook-events", "/v1/automations", "/v1/calendar-tasks", "/v1/calendar-feeds", "/v1/schedule", "/v1/schedule-exceptions", "/v1/services", "/v1/staff", "/v1/invitations", "/v1/canned-responses", "/v1/assistant", "/v1/channels", "/v1/whatsapp-templates", "/v1/business"];

/// The service's address as typed on the sign-in screen.
fn server_address(server: &str) -> Result<String, DeskError> {
    let server = server.trim().trim_end_matches('/').to_owned();
    if server.starts_with("http://") || server.starts_with("https://") {
        Ok(server)
    } else {
        Err(invalid("The server address starts with https:// (or http:// on this computer)."))
    }
}

/// Every item of one of the service's lists, page after page (`{items, next_cursor}`).
async fn every_page(transport: &crate::transport::HttpTransport, path: &str) -> Result<Vec<Value>, DeskError> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut query = vec![("limit", "200".to_owned())];
        query.extend(cursor.take().map(|c| ("cursor", c)));
        let page = transport.request_json(reqwest::Method::GET, path, &query, None).await.map_err(ConsoleError::from)?;
        let page: protocol::Page<Value> =
            serde_json::from_value(page).map_err(|e| DeskError { kind: "service".into(), message: format!("The service answered something unexpected: {e}"), code: None })?;
        items.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(items),
        }
    }
}

/// An id the UI hands over, to put into an address: one plain path segment.
fn id_segment(id: &str) -> Result<&str, DeskError> {
    if (1..=128).contains(&id.len()) && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        Ok(id)
    } else {
        Err(invalid(format!("`{}` is not an id.", id.chars().take(64).collect::<String>())))
    }
}

/// A settings address, with the only query lists take: a page's `cursor` and `limit` (every list
/// of the service answers `{items, next_cursor}`; the UI walks the pages).
fn settings_address(address: &str) -> Result<(&str, Vec<(&'static str, String)>), DeskError> {
    let (path, query) = match address.split_once('?') {
        Some((path, query)) => (path, query),
        None => (address, ""),
    };
    let path = settings_path(path)?;
    let mut params = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let refused = || invalid(format!("`{address}` is not a settings address."));
        let (name, value) = pair.split_once('=').ok_or_else(refused)?;
        let name = match name {
            "cursor" if !value.is_empty() && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') => "cursor",
            "limit" if !value.is_empty() && value.len() <= 4 && value.chars().all(|c| c.is_ascii_digit()) => "limit",
            _ => return Err(refused()),
        };
        if params.iter().any(|(n, _)| *n == name) {
            return Err(refused());
        }
        params.push((name, value.to_owned()));
    }
    Ok((path, params))
}

fn settings_path(path: &str) -> Result<&str, DeskError> {
    let allowed = SETTINGS.iter().any(|root| path == *root || path.strip_prefix(root).is_some_and(|rest| rest.starts_with('/')));
    // Each segment a plain name or id: nothing a URL parser would read as another path
    // (`..`, a backslash, tabs and line breaks, which it drops, `%`-escapes).
    let clean = path.split('/').skip(1).all(|segment| {
        !segment.is_empty() && segment != ".." && segment != "." && segment.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    });
    if allowed && clean {
        Ok(path)
    } else {
        Err(invalid(format!("`{path}` is not a settings address.")))
    }
}

/// Google's consent page is open (or could not be opened: then show `auth_url` to click).
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct GoogleCalendarConnecting {
    pub auth_url: String,
    pub browser_opened: bool,
}

/// How long a Google sign-in may take in the browser.
const GOOGLE_SIGN_IN_TIME: Duration = Duration::from_secs(600);

/// Signed in after enrolling in two-factor: the session and the recovery codes, shown once.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct EnrolledSession {
    pub session: Session,
    pub recovery_codes: Vec<String>,
}

/// A sign-in waiting for its first two-factor code: where, who, and the service's challenge.
struct Enrolling {
    server: String,
    email: String,
    challenge: String,
}

/// Who is signed in and how sync is going.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct Session {
    pub account: Option<Account>,
    /// Where the sign-in is kept.
    pub keep: Option<Keep>,
    /// Signed in with an encrypted file that waits for its passphrase: nothing syncs until then.
    pub locked: bool,
    /// Whether the OS keyring works on this computer (if not, the sign-in screen offers the
    /// encrypted file or this session only). Asked only when nobody is signed in; when someone
    /// is, whether their sign-in is kept in the keyring.
    pub keyring: bool,
    /// The signed-in person's name, once the directory has synced.
    pub name: Option<String>,
    pub status: Option<Status>,
    /// What the signed-in person may do, as the service said (at sign-in, then in every sync
    /// welcome): the screens show and hide by these names, never by the role.
    pub permissions: Vec<protocol::Permission>,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct Directory {
    /// How many minutes a customer waiting for a person may wait before it shows as late (the
    /// business's setting; 5 until it is synced).
    pub wait_target_minutes: u32,
    pub staff: Vec<Staff>,
    pub services: Vec<Service>,
    pub canned_responses: Vec<CannedResponse>,
    pub templates: Vec<WhatsappTemplate>,
}

/// An error as the UI shows it: a stable `kind` to branch on and a sentence for people.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, thiserror::Error)]
#[error("{message}")]
#[ts(export)]
pub struct DeskError {
    /// `offline`, `signed_out`, `refused`, `invalid`, `service`, `keyring`, `local_store`.
    pub kind: String,
    pub message: String,
    /// When the service refused: its stable error code (`validation_failed`, `forbidden`, …), so
    /// the UI can say what to do about it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub code: Option<String>,
}

impl From<ConsoleError> for DeskError {
    fn from(e: ConsoleError) -> Self {
        let (message, code) = match &e {
            ConsoleError::Transport(crate::TransportError::Offline(_)) => ("The service cannot be reached. Check the network and try again.".to_owned(), None),
            ConsoleError::Transport(crate::TransportError::Refused { message, code }) => (message.clone(), Some(code.clone())),
            other => (other.to_string(), None),
        };
        DeskError { kind: e.kind().to_owned(), message, code }
    }
}

fn invalid(message: impl Into<String>) -> DeskError {
    DeskError { kind: "invalid".into(), message: message.into(), code: None }
}

/// The passphrase of a sign-in kept in an encrypted file, for unattended use.
pub const PASSPHRASE_ENV: &str = "SWITCHBOARD_CONSOLE_PASSPHRASE";

/// One signed-in console (or none yet) and its running sync engine.
pub struct Desk {
    console: RwLock<Console>,
    sync: Mutex<Option<SyncHandle>>,
    events: broadcast::Sender<Event>,
    notifier: Option<Arc<dyn Notifier>>,
    config: EngineConfig,
    /// Google sign-ins under way, per staff member: the wait for the loopback redirect and the
    /// service's finish.
    google: Mutex<HashMap<String, tokio::task::JoinHandle<Result<Value, DeskError>>>>,
    enrolling: Mutex<Option<Enrolling>>,
}

impl Desk {
    /// Opens the data directory and, if someone is signed in, starts syncing.
    pub async fn open(data_dir: &Path, notifier: Option<Arc<dyn Notifier>>, config: EngineConfig) -> Result<Arc<Desk>, DeskError> {
        let started = std::time::Instant::now();
        let console = Console::open(data_dir).await?;
        tracing::debug!(ms = started.elapsed().as_secs_f64() * 1000.0, "opened the local store");
        let (events, _) = broadcast::channel(256);
        // Unattended (a headless machine's service): the passphrase from the environment.
        if console.is_locked() {
            if let Ok(passphrase) = std::env::var(PASSPHRASE_ENV) {
                if let Err(e) = console.unlock(&passphrase) {
                    tracing::warn!("{PASSPHRASE_ENV} did not open the saved sign-in: {e}");
                }
            }
        }
        let desk = Arc::new(Desk { console: RwLock::new(console), sync: Mutex::new(None), events, notifier, config, google: Mutex::new(HashMap::new()), enrolling: Mutex::new(None) });
        let ready = { let c = desk.console.read().await; c.account().is_some() && !c.is_locked() };
        if ready {
            desk.start_sync().await?;
        }
        tracing::debug!(ms = started.elapsed().as_secs_f64() * 1000.0, "the desk is open");
        Ok(desk)
    }

    /// Changes, status, presence, typing and alerts, batched per applied page.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    async fn start_sync(&self) -> Result<(), DeskError> {
        let handle = self.console.read().await.start(self.notifier.clone(), self.config.clone())?;
        let mut from_engine = handle.subscribe();
        let to_ui = self.events.clone();
        // The engine's status goes out as an event too, so a UI only ever listens.
        let mut status = handle.watch_status();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    event = from_engine.recv() => match event {
                        Ok(event) => { let _ = to_ui.send(event); }
                        Err(broadcast::error::RecvError::Lagged(_)) => {
                            // The UI missed some: tell it everything may have changed.
                            let _ = to_ui.send(Event::Changed { entities: vec![], resync: true });
                        }
                        Err(broadcast::error::RecvError::Closed) => return,
                    },
                    changed = status.changed() => {
                        if changed.is_err() { return; }
                        let status = status.borrow_and_update().clone();
                        let _ = to_ui.send(Event::Status { status });
                    }
                }
            }
        });
        if let Some(old) = self.sync.lock().await.replace(handle) {
            old.stop();
        }
        Ok(())
    }

    async fn session(&self) -> Session {
        let console = self.console.read().await;
        let status = self.sync.lock().await.as_ref().map(SyncHandle::status);
        let account = console.account().cloned();
        let (keep, locked) = (console.keep(), console.is_locked());
        // Only the sign-in screen needs to know, and asking the keyring costs a start-up a round
        // trip or three to the keyring service before the first inbox row: when someone is signed
        // in, whether their sign-in is kept there.
        let keyring = match (&account, keep) {
            (None, _) => tokio::task::spawn_blocking(crate::credentials::keyring_works).await.unwrap_or(false),
            (Some(_), keep) => keep == Some(Keep::Keyring),
        };
        let name = match &account {
            Some(a) => console.store().entity(EntityKind::Staff, &a.staff_id).await.ok().flatten().and_then(|s| s.get("name").and_then(Value::as_str).map(str::to_owned)),
            None => None,
        };
        let permissions = if account.is_some() { console.store().permissions().await.unwrap_or_default() } else { Vec::new() };
        Session { account, keep, locked, keyring, name, status, permissions }
    }

    async fn kick(&self) {
        if let Some(sync) = self.sync.lock().await.as_ref() {
            sync.kick();
        }
        let _ = self.events.send(Event::Outbox);
    }

    /// A file by the address the window loads it at ([`crate::media::Address`]): the desktop
    /// app's `media:` scheme and the UI bridge's `GET /media/…`. `None`: not a file this console
    /// shows (or nobody is signed in).
    pub async fn serve(&self, address: &str) -> Result<Option<crate::media::Served>, DeskError> {
        let console = self.console.read().await;
        if console.account().is_none() || console.is_locked() {
            return Ok(None);
        }
        Ok(console.serve(address).await?)
    }

    /// Answers one command.
    pub async fn dispatch(&self, command: Command) -> Result<Value, DeskError> {
        use Command as C;
        match command {
            C::Session => Ok(json!(self.session().await)),
            C::SignIn { server, email, password, code, keep, passphrase } => self.sign_in(server, email, password, code, keep.unwrap_or(Keep::Keyring), passphrase).await,
            C::SignInEnrol { server, email, password } => {
                let server = server_address(&server)?;
                let (challenge, setup) = crate::transport::begin_enrolment(&reqwest::Client::new(), &server, email.trim(), &password).await.map_err(ConsoleError::from)?;
                let qr_svg = privacy::qr_svg(&setup.otpauth_url);
                *self.enrolling.lock().await = Some(Enrolling { server, email: email.trim().to_owned(), challenge });
                Ok(json!(privacy::TwoFactorEnrolment { secret: setup.secret, otpauth_url: setup.otpauth_url, qr_svg }))
            }
            C::SignInEnrolConfirm { code, keep, passphrase } => {
                let Some(enrolling) = self.enrolling.lock().await.take() else {
                    return Err(invalid("No two-factor set-up is under way. Sign in again."));
                };
                let enrolled = match crate::transport::finish_enrolment(&reqwest::Client::new(), &enrolling.server, &enrolling.challenge, &code).await {
                    Ok(enrolled) => enrolled,
                    Err(e) => {
                        // A wrong code may be typed again (the challenge holds until it expires).
                        *self.enrolling.lock().await = Some(enrolling);
                        return Err(ConsoleError::from(e).into());
                    }
                };
                let keep = keep.unwrap_or(Keep::Keyring);
                self.signing_in(async |console| console.login_with_tokens(&enrolling.server, &enrolling.email, enrolled.tokens, keep, passphrase.as_deref()).await).await?;
                Ok(json!(EnrolledSession { session: self.session().await, recovery_codes: enrolled.recovery_codes }))
            }
            C::SignUp { server, business_name, timezone, name, email, password, keep, passphrase } => {
                let request = protocol::SignupRequest { business_name, timezone, name, email, password };
                self.sign_up(server, request, keep.unwrap_or(Keep::Keyring), passphrase).await
            }
            C::Unlock { passphrase } => {
                self.console.read().await.unlock(&passphrase)?;
                self.start_sync().await?;
                Ok(json!(self.session().await))
            }
            C::SignOut { discard } => {
                // Refused before the engine stops: whoever stays signed in keeps syncing.
                if !discard {
                    self.console.read().await.nothing_unsent().await?;
                }
                self.stop().await;
                let service_told = self.console.write().await.logout(true).await?;
                let _ = self.events.send(Event::Changed { entities: vec![], resync: true });
                Ok(json!({ "service_told": service_told }))
            }
            C::Inbox { query } => self.read(async |store, me| store.inbox(&query, me).await).await,
            C::Timeline { conversation_id } => self.read(async |store, me| store.timeline(&conversation_id, me).await).await,
            C::Customer { customer_id } => self.read(async |store, _| store.customer_profile(&customer_id).await).await,
            C::FindCustomers { text } => self.read(async |store, _| store.search_customers(&text, 20).await).await,
            C::Calendar { from, to } => {
                let parse = |t: &str| t.parse::<jiff::Timestamp>().map_err(|_| invalid(format!("`{t}` is not a time (RFC 3339).")));
                let (from, to) = (parse(&from)?, parse(&to)?);
                self.read(async |store, _| store.calendar(from, to).await).await
            }
            C::CustomerTimeline { customer_id, limit } => self.read(async |store, me| store.customer_timeline(&customer_id, me, limit).await).await,
            C::NeedsHumanCount => self.read(async |store, _| store.needs_human_count().await).await,
            C::Directory => Ok(json!(self.directory().await?)),
            C::Slots { service_id, from, to, staff_id } => {
                let mut query = vec![("service_id", service_id), ("from", from), ("to", to)];
                query.extend(staff_id.map(|s| ("staff_id", s)));
                self.ask_service("/v1/availability", &query).await
            }
            C::CheckSlot { service_id, start, staff_id, booking_id } => {
                let mut query = vec![("service_id", service_id), ("start", start)];
                query.extend(staff_id.map(|s| ("staff_id", s)));
                query.extend(booking_id.map(|b| ("booking_id", b)));
                self.ask_service("/v1/availability/check", &query).await
            }
            C::Settings { method, path, body } => {
                let (path, query) = settings_address(&path)?;
                let method = match method {
                    SettingsMethod::Get => reqwest::Method::GET,
                    SettingsMethod::Post => reqwest::Method::POST,
                    SettingsMethod::Patch => reqwest::Method::PATCH,
                    SettingsMethod::Put => reqwest::Method::PUT,
                    SettingsMethod::Delete => reqwest::Method::DELETE,
                };
                let transport = self.console.read().await.transport()?;
                Ok(transport.request_json(method, path, &query, body.as_ref()).await.map_err(ConsoleError::from)?)
            }
            C::AuditLog { cursor, limit } => {
                let mut query = vec![("limit", limit.unwrap_or(100).clamp(1, 200).to_string())];
                query.extend(cursor.map(|c| ("cursor", c)));
                let transport = self.console.read().await.transport()?;
                Ok(transport.request_json(reqwest::Method::GET, "/v1/audit-log", &query, None).await.map_err(ConsoleError::from)?)
            }
            C::GoogleCalendarConnect { staff_id } => self.google_connect(staff_id).await,
            C::GoogleCalendarWait { staff_id } => {
                let task = self.google.lock().await.remove(&staff_id).ok_or_else(|| invalid("No Google sign-in is under way for this person. Connect again."))?;
                task.await.unwrap_or_else(|_| Err(invalid("The Google sign-in was started again.")))
            }
            C::CalendarTasks => {
                let console = self.console.read().await;
                console.me()?;
                let rows = console.store().entities(EntityKind::CalendarTask).await.map_err(ConsoleError::from)?;
                let mut tasks: Vec<CalendarTask> = rows.into_iter().filter_map(|v| serde_json::from_value(v).ok()).collect();
                tasks.sort_by(|a, b| (a.created_at, a.id.as_str()).cmp(&(b.created_at, b.id.as_str())));
                Ok(json!(tasks))
            }
            C::Report { filter } => Ok(json!(crate::reports::summary(&*self.console.read().await, filter).await?)),
            C::ReportRows { filter, figure, previous } => Ok(crate::reports::rows(&*self.console.read().await, &filter, figure, previous).await?),
            C::ReportCsv { export, filter, figure } => Ok(json!(crate::reports::csv(&*self.console.read().await, export, &filter, figure).await?)),
            C::AccountSecurity => Ok(json!(privacy::security(&*self.console.read().await).await?)),
            C::Reauthenticate { password, code } => {
                privacy::reauthenticate(&*self.console.read().await, password, code).await?;
                Ok(Value::Null)
            }
            C::ChangePassword { current_password, new_password } => {
                privacy::change_password(&*self.console.read().await, current_password, new_password).await?;
                Ok(Value::Null)
            }
            C::TwoFactorBegin => Ok(json!(privacy::begin_two_factor(&*self.console.read().await).await?)),
            C::TwoFactorConfirm { code } => Ok(json!(privacy::confirm_two_factor(&*self.console.read().await, code).await?)),
            C::TwoFactorDisable => {
                privacy::disable_two_factor(&*self.console.read().await).await?;
                Ok(Value::Null)
            }
            C::SecuritySettings => Ok(json!(privacy::security_settings(&*self.console.read().await).await?)),
            C::RequireTwoFactor { require } => Ok(json!(privacy::require_two_factor(&*self.console.read().await, require).await?)),
            C::ResetStaffSignIn { staff_id } => Ok(json!(privacy::reset_staff_member(&*self.console.read().await, id_segment(&staff_id)?).await?)),
            C::ExportCustomer { who } => {
                if let Some(id) = &who.customer_id {
                    id_segment(id)?;
                }
                Ok(json!(privacy::export_customer(&*self.console.read().await, &who).await?))
            }
            C::EraseCustomer { customer_id } => {
                let removed = privacy::erase_customer(&*self.console.read().await, id_segment(&customer_id)?).await?;
                self.kick().await;
                Ok(removed)
            }
            C::Retention => Ok(json!(privacy::retention(&*self.console.read().await).await?)),
            C::SetRetention { policy } => Ok(json!(privacy::set_retention(&*self.console.read().await, &policy).await?)),
            C::RetentionDryRun => Ok(json!(privacy::retention_preview(&*self.console.read().await).await?)),
            C::SendMessage { conversation_id, body } => self.act(async |c| c.send_message(&conversation_id, &body).await).await,
            C::Attach { conversation_id, filename, content_type, data_base64, caption } => {
                use base64::Engine as _;
                let data = base64::engine::general_purpose::STANDARD
                    .decode(data_base64.as_bytes())
                    .map_err(|_| ConsoleError::Invalid("The file could not be read.".into()))?;
                self.act(async |c| c.attach(&conversation_id, &filename, &content_type, data, &caption).await).await
            }
            C::Media { path } => Ok(json!(self.console.read().await.media(&path).await?)),
            C::Thumbnail { path } => Ok(json!(self.console.read().await.thumbnail(&path).await?)),
            C::UseCannedResponse { conversation_id, canned_response_id } => self.act(async |c| c.use_canned_response(&conversation_id, &canned_response_id).await).await,
            C::SendTemplate { conversation_id, template_id, variables } => self.act(async |c| c.send_template(&conversation_id, &template_id, variables).await).await,
            C::TakeOver { conversation_id } => self.act(async |c| c.take_over(&conversation_id).await).await,
            C::HandBack { conversation_id } => self.act(async |c| c.hand_back(&conversation_id).await).await,
            C::MarkRead { conversation_id } => self.act(async |c| c.mark_read(&conversation_id).await).await,
            C::SetStatus { conversation_id, status } => self.act(async |c| c.set_status(&conversation_id, &status).await).await,
            C::Assign { conversation_id, staff_id } => self.act(async |c| c.assign(&conversation_id, staff_id.as_deref()).await).await,
            C::LabelConversation { conversation_id, add, remove } => self.act(async |c| c.label_conversation(&conversation_id, add, remove).await).await,
            C::TagCustomer { customer_id, add, remove } => self.act(async |c| c.tag_customer(&customer_id, add, remove).await).await,
            C::Labels => self.read(async |store, _| store.labels().await).await,
            C::AddNote { conversation_id, body } => self.act(async |c| c.add_note(&conversation_id, &body).await).await,
            C::CreateCustomer { customer } => self.act(async |c| c.create_customer(customer).await).await,
            C::StartConversation { customer_id, channel, body, template_id, variables } => {
                self.act(async |c| c.start_conversation(&customer_id, &channel, body.as_deref(), template_id.as_deref(), variables).await).await
            }
            C::CreateBooking { customer_id, service_id, start, staff_id } => {
                self.act(async |c| c.create_booking(&customer_id, &service_id, &start, staff_id.as_deref()).await).await
            }
            C::RescheduleBooking { booking_id, expected_version, start, staff_id } => {
                self.act(async |c| c.reschedule_booking(&booking_id, expected_version, &start, staff_id.as_deref()).await).await
            }
            C::CancelBooking { booking_id, expected_version, reason } => {
                self.act(async |c| c.cancel_booking(&booking_id, expected_version, reason.as_deref()).await).await
            }
            C::ConfirmBooking { booking_id, expected_version } => {
                id_segment(&booking_id)?;
                self.act(async |c| c.confirm_booking(&booking_id, expected_version).await).await
            }
            C::ConversationAutomations { conversation_id } => {
                let path = format!("/v1/conversations/{}/automations", id_segment(&conversation_id)?);
                let transport = self.console.read().await.transport()?;
                Ok(Value::Array(every_page(&transport, &path).await?))
            }
            C::Outbox => self.read(async |store, _| store.outbox().await).await,
            C::Retry { mutation_id } => {
                self.console.read().await.store().retry(mutation_id).await.map_err(ConsoleError::from)?;
                self.kick().await;
                Ok(Value::Null)
            }
            C::Discard { mutation_id } => {
                self.console.read().await.store().discard(mutation_id).await.map_err(ConsoleError::from)?;
                let _ = self.events.send(Event::Outbox);
                Ok(Value::Null)
            }
            C::Viewing { conversation_id } => {
                if let Some(sync) = self.sync.lock().await.as_ref() {
                    sync.viewing(conversation_id);
                }
                Ok(Value::Null)
            }
            C::Typing { conversation_id } => {
                if let Some(sync) = self.sync.lock().await.as_ref() {
                    sync.typing(conversation_id);
                }
                Ok(Value::Null)
            }
            C::SyncNow => {
                let sync = self.sync.lock().await.clone().ok_or(ConsoleError::NotSignedIn)?;
                sync.sync_now().await.map_err(ConsoleError::from)?;
                Ok(Value::Null)
            }
        }
    }

    async fn google_connect(&self, staff_id: String) -> Result<Value, DeskError> {
        if staff_id.is_empty() || !staff_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(invalid("Not a staff member's id."));
        }
        let transport = self.console.read().await.transport()?;
        let loopback = crate::google::Loopback::bind().await.map_err(|e| invalid(e.to_string()))?;
        let (verifier, challenge) = crate::google::pkce();
        let start = StartGoogleCalendar { redirect_uri: loopback.redirect_uri.clone(), code_challenge: challenge };
        let started = transport
            .request_json(reqwest::Method::POST, &format!("/v1/staff/{staff_id}/google-calendar/start"), &[], Some(&json!(start)))
            .await
            .map_err(ConsoleError::from)?;
        let started: GoogleCalendarAuthStart = serde_json::from_value(started).map_err(|e| DeskError { kind: "service".into(), message: format!("The service answered something unexpected: {e}"), code: None })?;
        let browser_opened = crate::google::open_in_browser(&started.auth_url);
        let (state, finish) = (started.state, format!("/v1/staff/{staff_id}/google-calendar/finish"));
        let task = tokio::spawn(async move {
            let code = loopback.wait(&state, GOOGLE_SIGN_IN_TIME).await.map_err(|e| DeskError { kind: "refused".into(), message: e.to_string(), code: None })?;
            let body = json!(FinishGoogleCalendar { state, code, code_verifier: verifier });
            Ok(transport.request_json(reqwest::Method::POST, &finish, &[], Some(&body)).await.map_err(ConsoleError::from)?)
        });
        if let Some(old) = self.google.lock().await.insert(staff_id, task) {
            old.abort();
        }
        Ok(json!(GoogleCalendarConnecting { auth_url: started.auth_url, browser_opened }))
    }

    async fn sign_in(&self, server: String, email: String, password: String, code: Option<String>, keep: Keep, passphrase: Option<String>) -> Result<Value, DeskError> {
        let server = server_address(&server)?;
        self.signing_in(async |console| console.login_with_code(&server, email.trim(), &password, code.as_deref(), keep, passphrase.as_deref()).await).await?;
        Ok(json!(self.session().await))
    }

    async fn sign_up(&self, server: String, request: protocol::SignupRequest, keep: Keep, passphrase: Option<String>) -> Result<Value, DeskError> {
        let server = server_address(&server)?;
        self.signing_in(async |console| console.signup_keeping(&server, request, keep, passphrase.as_deref()).await).await?;
        Ok(json!(self.session().await))
    }

    /// Signs someone in here (sync stops meanwhile) and syncs for them. A sign-in that fails
    /// leaves whoever was signed in signed in, and syncing again.
    async fn signing_in(&self, sign_in: impl AsyncFnOnce(&mut Console) -> Result<crate::Account, ConsoleError>) -> Result<(), DeskError> {
        self.stop().await;
        let signed_in = sign_in(&mut *self.console.write().await).await;
        if let Err(e) = signed_in {
            if self.console.read().await.me().is_ok() {
                if let Err(again) = self.start_sync().await {
                    tracing::warn!(error = %again.message, "the earlier session could not sync again after a failed sign-in");
                }
            }
            return Err(e.into());
        }
        self.start_sync().await
    }

    /// A question only the service can answer (needs the network).
    async fn ask_service(&self, path: &str, query: &[(&str, String)]) -> Result<Value, DeskError> {
        let transport = self.console.read().await.transport()?;
        Ok(transport.request_json(reqwest::Method::GET, path, query, None).await.map_err(ConsoleError::from)?)
    }

    /// A question for the mirror, asked as the signed-in person.
    async fn read<T: Serialize>(&self, query: impl AsyncFnOnce(&crate::LocalStore, &str) -> Result<T, crate::store::StoreError>) -> Result<Value, DeskError> {
        let console = self.console.read().await;
        let me = console.me()?;
        Ok(json!(query(console.store(), me).await.map_err(ConsoleError::from)?))
    }

    /// Something staff did: queued in the outbox (shown at once as pending), pushed when possible.
    async fn act(&self, action: impl AsyncFnOnce(&Console) -> Result<crate::Queued, ConsoleError>) -> Result<Value, DeskError> {
        let queued = action(&*self.console.read().await).await?;
        self.kick().await;
        Ok(json!(queued))
    }

    async fn directory(&self) -> Result<Directory, DeskError> {
        async fn all<T: serde::de::DeserializeOwned>(store: &crate::LocalStore, entity: EntityKind) -> Result<Vec<T>, DeskError> {
            let rows = store.entities(entity).await.map_err(ConsoleError::from)?;
            Ok(rows.into_iter().filter_map(|v| serde_json::from_value(v).ok()).collect())
        }
        let console = self.console.read().await;
        let store = console.store();
        let mut staff: Vec<Staff> = all(store, EntityKind::Staff).await?;
        staff.retain(|s| s.active);
        staff.sort_by(|a, b| a.name.cmp(&b.name));
        let mut services: Vec<Service> = all(store, EntityKind::Service).await?;
        services.retain(|s| s.active);
        services.sort_by(|a, b| a.name.cmp(&b.name));
        let mut canned_responses: Vec<CannedResponse> = all(store, EntityKind::CannedResponse).await?;
        canned_responses.sort_by(|a, b| a.shortcut.cmp(&b.shortcut));
        let mut templates: Vec<WhatsappTemplate> = all(store, EntityKind::WhatsappTemplate).await?;
        templates.sort_by(|a, b| a.name.cmp(&b.name));
        let businesses: Vec<protocol::Business> = all(store, EntityKind::Business).await?;
        let wait_target_minutes = businesses.first().map_or(5, |b| b.wait_target_minutes);
        Ok(Directory { wait_target_minutes, staff, services, canned_responses, templates })
    }

    /// Stops syncing (the app is quitting).
    pub async fn stop(&self) {
        if let Some(sync) = self.sync.lock().await.take() {
            sync.stop_and_wait().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_reach_only_the_business_configuration() {
        for ok in ["/v1/services", "/v1/services/0190abc", "/v1/staff/1/hours", "/v1/assistant", "/v1/schedule-exceptions/x", "/v1/automations", "/v1/automations/preview", "/v1/calendar-tasks/t1/apply", "/v1/staff/s1/google-calendar/calendars", "/v1/webhook-events/failed", "/v1/webhook-events/e1/retry"] {
            assert_eq!(settings_path(ok), Ok(ok));
        }
        for refused in ["/v1/conversations", "/v1/customers/1", "/v1/servicesX", "/v1/services/../customers", "/v1/services//x", "/v1/staff?x=1", "https://evil.example/v1/services", "/v1/services/%2e%2e", "/v1/automationsX", "/v1/bookings/unconfirmed", "/v1/services/..\\customers", "/v1/services/.\t./customers", "/v1/services/x y", "/v1/services/\u{0}"] {
            assert_eq!(settings_path(refused).unwrap_err().kind, "invalid", "{refused}");
        }
    }

    #[test]
    fn settings_lists_may_be_paged_and_nothing_else() {
        assert_eq!(settings_address("/v1/services").unwrap(), ("/v1/services", vec![]));
        assert_eq!(settings_address("/v1/services?cursor=MTI6YQ&limit=200").unwrap(), ("/v1/services", vec![("cursor", "MTI6YQ".into()), ("limit", "200".into())]));
        for refused in ["/v1/staff?x=1", "/v1/services?limit=1&limit=2", "/v1/services?cursor=a%26b", "/v1/services?limit=", "/v1/services?cursor=a&q=b", "/v1/customers?limit=1", "/v1/services?limit=99999"] {
            assert_eq!(settings_address(refused).unwrap_err().kind, "invalid", "{refused}");
        }
    }

    #[test]
    fn ids_in_addresses_are_one_plain_segment() {
        assert_eq!(id_segment("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"), Ok("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"));
        for refused in ["", "..", "a/b", "x?y=1", "%2e%2e", "a b", "b#1", &"a".repeat(129)] {
            assert_eq!(id_segment(refused).unwrap_err().kind, "invalid", "{refused}");
        }
    }
}
