//! The console's core, with no window: what the desktop app and the `switchboard-console` CLI
//! share. [`Console`] opens a data directory holding a local SQLite mirror of what the signed-in
//! staff member may see (`mirror`), the queue of things they did that the service has not yet
//! confirmed (`outbox`), and runs the sync engine (`engine`) that keeps both in step with the
//! service over HTTP and a WebSocket (`transport`). The refresh token lives in the OS keyring, or
//! where there is none in a passphrase-encrypted file or in memory for the session
//! (`credentials`), never in plaintext in the data directory; `alerts` decides which changes
//! deserve a native notification.

pub mod alerts;
pub mod bridge;
pub mod credentials;
pub mod desk;
pub mod engine;
pub mod google;
pub mod media;
pub mod privacy;
pub mod queries;
pub mod reports;
pub mod store;
pub mod thumbnail;
pub mod transport;
pub mod weekly;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use ts_rs::TS;


pub use engine::{EngineConfig, Event, Status, SyncHandle, SyncState};
pub use store::{LocalStore, OutboxEntry};
pub use transport::{HttpTransport, Transport, TransportError};

use credentials::{CredentialError, Credentials, Keep};
use protocol::{BookingId, ConversationId, CustomerId, MessageId, MutationOp, NoteId};
use store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error(transparent)]
    Credentials(#[from] CredentialError),
    #[error("not signed in")]
    NotSignedIn,
    #[error("{0}")]
    Invalid(String),
    /// Signing out would drop what was done here and has not reached the service yet.
    #[error("{} made here {} not reached the service yet. Connect so {} sent first, or sign out anyway and {} lost.",
        plural(*.0, "An action", "actions"), if *.0 == 1 { "has" } else { "have" }, if *.0 == 1 { "it is" } else { "they are" }, if *.0 == 1 { "it is" } else { "they are" })]
    Unsent(usize),
}

/// "An action" for one, "3 actions" for more.
fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 { one.to_owned() } else { format!("{n} {many}") }
}

impl ConsoleError {
    /// A stable kind for the UI (`{kind, message}`).
    pub fn kind(&self) -> &'static str {
        match self {
            ConsoleError::Store(_) => "local_store",
            ConsoleError::Transport(TransportError::Offline(_)) => "offline",
            ConsoleError::Transport(TransportError::SignedOut(_)) | ConsoleError::NotSignedIn => "signed_out",
            ConsoleError::Transport(TransportError::Refused { .. }) => "refused",
            ConsoleError::Transport(_) => "service",
            ConsoleError::Credentials(CredentialError::WrongPassphrase) => "wrong_passphrase",
            ConsoleError::Credentials(CredentialError::Locked) => "locked",
            ConsoleError::Credentials(CredentialError::NoKeyring) => "no_keyring",
            ConsoleError::Credentials(CredentialError::WeakPassphrase) => "invalid",
            ConsoleError::Credentials(_) => "keyring",
            ConsoleError::Invalid(_) => "invalid",
            ConsoleError::Unsent(_) => "unsent",
        }
    }
}

/// Who is signed in on this console (no secrets: the refresh token is in the keyring).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Account {
    pub server: String,
    pub email: String,
    pub staff_id: String,
    pub business_id: String,
    pub role: String,
}

/// What queuing an action gave: the mutation's id in the outbox, and the id of what it creates
/// (a message, a note, a booking), made here so it can be shown before the service answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Queued {
    #[ts(type = "number")]
    pub mutation_id: i64,
    pub created_id: Option<String>,
}

/// A console's data directory: its local store, device id and sign-in.
pub struct Console {
    store: LocalStore,
    data_dir: PathBuf,
    client_id: String,
    account: Option<Account>,
    credentials: Option<Arc<Credentials>>,
    transport: Option<Arc<HttpTransport>>,
}

const ACCOUNT_KEYS: [&str; 5] = ["server", "email", "staff_id", "business_id", "role"];
/// Where the sign-in's refresh token is kept (`keyring` when absent: consoles from before the
/// choice existed).
const KEEP_KEY: &str = "keep";

/// A new id for this device, kept; its mutations are numbered from 1 again.
async fn new_device_id(store: &LocalStore) -> Result<String, StoreError> {
    let id = uuid::Uuid::now_v7().to_string();
    store.set_setting("client_id", &id).await?;
    Ok(id)
}

impl Console {
    /// Opens (or creates) the console's data directory. One it creates is its owner's alone
    /// (mode 0700 on Unix): it holds the business's customers and conversations.
    pub async fn open(data_dir: &Path) -> Result<Console, ConsoleError> {
        let mut dirs = std::fs::DirBuilder::new();
        dirs.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut dirs, 0o700);
        dirs.create(data_dir).map_err(|e| ConsoleError::Invalid(format!("cannot create {}: {e}", data_dir.display())))?;
        let store = LocalStore::open(&data_dir.join("console.sqlite3")).await?;
        let client_id = match store.setting("client_id").await? {
            Some(id) => id,
            None => new_device_id(&store).await?,
        };
        let mut values = Vec::new();
        for key in ACCOUNT_KEYS {
            values.push(store.setting(key).await?);
        }
        let account = match values.as_slice() {
            [Some(server), Some(email), Some(staff_id), Some(business_id), Some(role)] => Some(Account {
                server: server.clone(),
                email: email.clone(),
                staff_id: staff_id.clone(),
                business_id: business_id.clone(),
                role: role.clone(),
            }),
            _ => None,
        };
        let keep = store.setting(KEEP_KEY).await?.and_then(|k| Keep::parse(&k)).unwrap_or(Keep::Keyring);
        let mut console = Console { store, data_dir: data_dir.to_owned(), client_id, account: None, credentials: None, transport: None };
        if let Some(account) = account {
            match keep {
                Keep::Keyring => {
                    let credentials = Credentials::for_account(&account.server, &account.email)?;
                    console.attach_account(account, credentials, None);
                }
                // Locked until the passphrase is given (`unlock`).
                Keep::File => {
                    let credentials = Credentials::sealed(data_dir, &account.server, &account.email);
                    console.attach_account(account, credentials, None);
                }
                // A sign-in for one session ended with it: nothing of that person stays.
                Keep::Session => console.sign_out_locally().await?,
            }
        }
        Ok(console)
    }

    fn attach_account(&mut self, account: Account, credentials: Credentials, access_token: Option<String>) {
        let credentials = Arc::new(credentials);
        self.transport = Some(Arc::new(HttpTransport::new(&account.server, credentials.clone(), access_token)));
        self.credentials = Some(credentials);
        self.account = Some(account);
    }

    /// Where the sign-in is kept (`None`: nobody is signed in).
    pub fn keep(&self) -> Option<Keep> {
        self.credentials.as_ref().map(|c| c.keep())
    }

    /// Signed in with an encrypted file whose passphrase has not been given since the start.
    pub fn is_locked(&self) -> bool {
        self.credentials.as_ref().is_some_and(|c| c.is_locked())
    }

    /// Opens the saved sign-in with its passphrase.
    pub fn unlock(&self, passphrase: &str) -> Result<(), ConsoleError> {
        let credentials = self.credentials.as_ref().ok_or(ConsoleError::NotSignedIn)?;
        let started = std::time::Instant::now();
        let unlocked = credentials.unlock(passphrase);
        // Its cost is part of a cold start (BENCHMARKS.md): `SWITCHBOARD_LOG=console_core=debug`.
        tracing::debug!(ms = started.elapsed().as_secs_f64() * 1000.0, "unlocked the sign-in file");
        Ok(unlocked?)
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    pub fn account(&self) -> Option<&Account> {
        self.account.as_ref()
    }

    pub fn store(&self) -> &LocalStore {
        &self.store
    }

    /// The signed-in staff member's id.
    pub fn me(&self) -> Result<&str, ConsoleError> {
        self.account.as_ref().map(|a| a.staff_id.as_str()).ok_or(ConsoleError::NotSignedIn)
    }

    pub fn transport(&self) -> Result<Arc<HttpTransport>, ConsoleError> {
        self.transport.clone().ok_or(ConsoleError::NotSignedIn)
    }

    /// Signs in, keeping the sign-in in the OS keyring.
    pub async fn login(&mut self, server: &str, email: &str, password: &str) -> Result<Account, ConsoleError> {
        self.login_keeping(server, email, password, Keep::Keyring, None).await
    }

    /// Signs in, keeping the sign-in where asked (`passphrase`: for [`Keep::File`]). Signing in
    /// as someone else (or to another service) first forgets the previous person's data on this
    /// machine.
    pub async fn login_keeping(&mut self, server: &str, email: &str, password: &str, keep: Keep, passphrase: Option<&str>) -> Result<Account, ConsoleError> {
        self.login_with_code(server, email, password, None, keep, passphrase).await
    }

    /// Signs in as [`Console::login_keeping`] does, with a two-factor `code` (or a recovery code)
    /// when the account asks for one (refused as `two_factor_required` without).
    pub async fn login_with_code(&mut self, server: &str, email: &str, password: &str, code: Option<&str>, keep: Keep, passphrase: Option<&str>) -> Result<Account, ConsoleError> {
        let server = server.trim_end_matches('/');
        // Refused before asking the service: a sign-in that could not be kept.
        let credentials = self.credentials_for(server, email, keep, passphrase)?;
        let http = reqwest::Client::new();
        let tokens = transport::login(&http, server, email, password, code).await?;
        self.adopt(server, email, credentials, keep, tokens).await
    }

    /// Creates a new business with its owner (the service's signup) and signs in as that owner,
    /// keeping the sign-in where asked, exactly as [`Console::login_keeping`] does.
    pub async fn signup_keeping(&mut self, server: &str, request: protocol::SignupRequest, keep: Keep, passphrase: Option<&str>) -> Result<Account, ConsoleError> {
        let server = server.trim_end_matches('/');
        let credentials = self.credentials_for(server, &request.email, keep, passphrase)?;
        let http = reqwest::Client::new();
        let tokens = transport::signup(&http, server, &request).await?;
        self.adopt(server, &request.email, credentials, keep, tokens).await
    }

    /// Signs in with tokens the service has already issued (enrolling in two-factor at sign-in
    /// ends with them), keeping the sign-in as [`Console::login_keeping`] does.
    pub async fn login_with_tokens(&mut self, server: &str, email: &str, tokens: protocol::AuthTokens, keep: Keep, passphrase: Option<&str>) -> Result<Account, ConsoleError> {
        let server = server.trim_end_matches('/');
        let credentials = self.credentials_for(server, email, keep, passphrase)?;
        self.adopt(server, email, credentials, keep, tokens).await
    }

    fn credentials_for(&self, server: &str, email: &str, keep: Keep, passphrase: Option<&str>) -> Result<Credentials, ConsoleError> {
        let email_key = email.trim().to_lowercase();
        Ok(match keep {
            Keep::Keyring if !credentials::keyring_works() => return Err(CredentialError::NoKeyring.into()),
            Keep::Keyring => Credentials::for_account(server, &email_key)?,
            Keep::File => Credentials::new_sealed(&self.data_dir, server, &email_key, passphrase.unwrap_or_default())?,
            Keep::Session => Credentials::for_session(),
        })
    }

    async fn adopt(&mut self, server: &str, email: &str, credentials: Credentials, keep: Keep, tokens: protocol::AuthTokens) -> Result<Account, ConsoleError> {
        let account = Account {
            server: server.to_owned(),
            email: email.trim().to_lowercase(),
            staff_id: tokens.staff_id.to_string(),
            business_id: tokens.business_id.to_string(),
            role: tokens.role.as_str().to_owned(),
        };
        if let Some(previous) = &self.account {
            if previous.server != account.server || previous.staff_id != account.staff_id {
                self.sign_out_locally().await?;
            }
        }
        // The previous place of this sign-in (a file, a keyring entry) is emptied first.
        if let Some(previous) = self.credentials.take() {
            previous.forget()?;
        }
        credentials.store(&tokens.refresh_token)?;
        self.store.set_setting(KEEP_KEY, keep.as_str()).await?;
        self.store.set_permissions(&tokens.permissions).await?;
        self.attach_account(account.clone(), credentials, Some(tokens.access_token));
        for (key, value) in ACCOUNT_KEYS.iter().zip([&account.server, &account.email, &account.staff_id, &account.business_id, &account.role]) {
            self.store.set_setting(key, value).await?;
        }
        Ok(account)
    }

    /// Keeps the sign-in somewhere else (`passphrase`: for [`Keep::File`]) without signing in
    /// again: the refresh token moves from its present place (unlocked, if it is the file) to
    /// the new one, and the old place is emptied. The data here stays.
    pub async fn keep_sign_in(&mut self, keep: Keep, passphrase: Option<&str>) -> Result<(), ConsoleError> {
        let (account, previous) = match (&self.account, &self.credentials) {
            (Some(account), Some(credentials)) => (account.clone(), credentials.clone()),
            _ => return Err(ConsoleError::NotSignedIn),
        };
        let token = previous.refresh_token()?.ok_or(ConsoleError::NotSignedIn)?;
        let credentials = self.credentials_for(&account.server, &account.email, keep, passphrase)?;
        // Written to its new place before the old one is emptied: a place that refuses it (a
        // keyring that stopped answering) leaves the sign-in where it was. An account has one
        // keyring entry and one file, so a move to the same kind of place only rewrites it.
        credentials.store(&token)?;
        self.store.set_setting(KEEP_KEY, keep.as_str()).await?;
        self.attach_account(account, credentials, None);
        if previous.keep() != keep {
            previous.forget()?;
        }
        Ok(())
    }

    /// Ends the session on the service and forgets this person's data here.
    /// Signs out: ends the session on the service and forgets this person's data here. Actions
    /// still waiting to be sent are refused ([`ConsoleError::Unsent`]) unless `drop_unsent`: a
    /// reply typed offline is not lost without being asked. Answers whether the service was told;
    /// when it was not (offline), that sign-in stays valid there until it expires.
    pub async fn logout(&mut self, drop_unsent: bool) -> Result<bool, ConsoleError> {
        if !drop_unsent {
            self.nothing_unsent().await?;
        }
        let told = match &self.transport {
            Some(t) => t.logout().await,
            None => true,
        };
        self.sign_out_locally().await?;
        Ok(told)
    }

    /// Refuses ([`ConsoleError::Unsent`]) while actions made here wait to be sent.
    pub async fn nothing_unsent(&self) -> Result<(), ConsoleError> {
        match self.store.outbox().await?.iter().filter(|e| e.state == "pending").count() {
            0 => Ok(()),
            unsent => Err(ConsoleError::Unsent(unsent)),
        }
    }

    /// Forgets the person here: their sign-in, the mirror, the outbox and the kept files. The
    /// next person gets a new device id (the service binds one to the staff member who first
    /// synced with it, and refuses it to anyone else).
    async fn sign_out_locally(&mut self) -> Result<(), ConsoleError> {
        // Signed out here first: a wipe that fails halfway leaves nobody signed in.
        self.account = None;
        self.transport = None;
        if let Some(c) = self.credentials.take() {
            c.forget()?;
        }
        self.store.wipe_all().await?;
        self.client_id = new_device_id(&self.store).await?;
        Ok(())
    }

    /// One push-and-pull now (the CLI's `sync`). What this person may do is asked first, as the
    /// live session's welcome tells the engine: after a role change the copy here is reloaded.
    pub async fn sync_once(&self) -> Result<engine::Pass, ConsoleError> {
        let transport = self.transport()?;
        let mut syncer = engine::Syncer::new(self.store.clone(), transport.clone(), self.client_id.clone(), self.me()?.to_owned(), 2000);
        let me: protocol::Me = serde_json::from_value(transport.request_json(reqwest::Method::GET, "/v1/me", &[], None).await?).map_err(StoreError::from)?;
        let before = self.store.permissions().await?;
        if self.store.set_permissions(&me.permissions).await? && !before.is_empty() {
            syncer.reload_next();
        }
        Ok(syncer.pass().await?)
    }

    /// Starts the sync engine (the app and `watch`).
    pub fn start(&self, notifier: Option<Arc<dyn alerts::Notifier>>, config: EngineConfig) -> Result<SyncHandle, ConsoleError> {
        self.start_with_clock(notifier, config, Arc::new(engine::SystemClock))
    }

    /// [`Console::start`] on another clock (tests: a Monday morning for the weekly summary).
    pub fn start_with_clock(
        &self,
        notifier: Option<Arc<dyn alerts::Notifier>>,
        config: EngineConfig,
        clock: Arc<dyn engine::Clock>,
    ) -> Result<SyncHandle, ConsoleError> {
        Ok(engine::spawn(engine::Parts {
            store: self.store.clone(),
            transport: self.transport()?,
            clock,
            client_id: self.client_id.clone(),
            me: self.me()?.to_owned(),
            notifier,
            config,
        }))
    }

    // -----------------------------------------------------------------------------------------
    // What staff do. Each queues a mutation in the outbox (shown at once as pending); the engine
    // pushes it when it can.

    async fn queue(&self, op: MutationOp) -> Result<Queued, ConsoleError> {
        self.me()?;
        let created_id = match &op {
            MutationOp::SendMessage { message_id, .. }
            | MutationOp::SendMedia { message_id, .. }
            | MutationOp::UseCannedResponse { message_id, .. }
            | MutationOp::SendTemplate { message_id, .. } => Some(message_id.to_string()),
            MutationOp::AddNote { note_id, .. } => Some(note_id.to_string()),
            MutationOp::CreateBooking { booking_id, .. } => Some(booking_id.to_string()),
            MutationOp::CreateCustomer { customer_id, .. } => Some(customer_id.to_string()),
            MutationOp::StartConversation { conversation_id, .. } => Some(conversation_id.to_string()),
            _ => None,
        };
        // What the service could not read (an id that is empty, too long or has control
        // characters) is refused here, in words, rather than queued.
        let (name, args) = op.to_wire();
        if let MutationOp::Unreadable { reason, .. } = MutationOp::from_wire(&name, args) {
            return Err(ConsoleError::Invalid(format!("This action cannot be sent: {reason}.")));
        }
        let mutation_id = self.store.enqueue(&op).await?;
        Ok(Queued { mutation_id, created_id })
    }

    fn text(value: &str, what: &str, max: usize) -> Result<String, ConsoleError> {
        let value = value.trim();
        if value.is_empty() {
            return Err(ConsoleError::Invalid(format!("The {what} is empty.")));
        }
        if value.chars().count() > max {
            return Err(ConsoleError::Invalid(format!("The {what} is longer than {max} characters.")));
        }
        Ok(value.to_owned())
    }

    pub async fn send_message(&self, conversation_id: &str, body: &str) -> Result<Queued, ConsoleError> {
        let body = Self::text(body, "message", 4096)?;
        self.queue(MutationOp::SendMessage { conversation_id: conversation_id.into(), message_id: MessageId::new(), body }).await
    }

    /// Attaches a file to send (with an optional caption), offline like a reply: the file is kept
    /// here (never let go before the service has it), uploaded by the sync engine, then sent.
    /// Files the conversation's channel does not take are refused at once, in plain words.
    pub async fn attach(&self, conversation_id: &str, filename: &str, content_type: &str, data: Vec<u8>, caption: &str) -> Result<Queued, ConsoleError> {
        self.me()?;
        let channel: Option<String> =
            sqlx::query_scalar("SELECT channel FROM conversations WHERE id = ?").bind(conversation_id).fetch_optional(self.store.pool()).await.map_err(StoreError::from)?;
        let channel = channel.and_then(|c| protocol::Channel::parse(&c)).ok_or_else(|| ConsoleError::Invalid("No such conversation.".into()))?;
        let content_type = media::check(channel, content_type, data.len() as u64).map_err(|e| ConsoleError::Invalid(e.to_string()))?;
        let caption = caption.trim();
        if caption.chars().count() > 1024 {
            return Err(ConsoleError::Invalid("A caption is at most 1024 characters.".into()));
        }
        let media_id = protocol::MediaId::new();
        let filename = Some(filename.trim()).filter(|f| !f.is_empty()).map(str::to_owned);
        let file = store::CachedMedia { content_type, filename, data, pinned: true };
        media::keep(&self.store, &media::key(&media_id), file).await?;
        self.queue(MutationOp::SendMedia { conversation_id: conversation_id.into(), message_id: MessageId::new(), media_id, caption: caption.to_owned() }).await
    }

    /// A file the timeline links (`/v1/media/{id}`, `/v1/calls/{id}/recording`): from the copy
    /// kept here when there is one (files never change), else from the service, then kept within
    /// the budget for viewing offline.
    pub async fn media(&self, path: &str) -> Result<media::MediaData, ConsoleError> {
        media::fetch(&self.store, self.transport()?.as_ref(), path).await
    }

    /// A picture's small copy for the timeline (made when the file was kept), `None` when the
    /// file has none: see [`media::thumbnail`].
    pub async fn thumbnail(&self, path: &str) -> Result<Option<media::MediaThumbnail>, ConsoleError> {
        media::thumbnail(&self.store, self.transport()?.as_ref(), path).await
    }

    /// A file by the address the window's `<img>` loads it at (see [`media::Address`]): only a
    /// file a message in this console's mirror shows, or one attached here; `None` otherwise.
    pub async fn serve(&self, address: &str) -> Result<Option<media::Served>, ConsoleError> {
        self.me()?;
        media::serve(&self.store, self.transport()?.as_ref(), address).await
    }

    pub async fn use_canned_response(&self, conversation_id: &str, canned_response_id: &str) -> Result<Queued, ConsoleError> {
        self.queue(MutationOp::UseCannedResponse {
            conversation_id: conversation_id.into(),
            message_id: MessageId::new(),
            canned_response_id: canned_response_id.into(),
        })
        .await
    }

    pub async fn send_template(&self, conversation_id: &str, template_id: &str, variables: Vec<String>) -> Result<Queued, ConsoleError> {
        self.queue(MutationOp::SendTemplate {
            conversation_id: conversation_id.into(),
            message_id: MessageId::new(),
            template_id: template_id.into(),
            variables,
        })
        .await
    }

    pub async fn take_over(&self, conversation_id: &str) -> Result<Queued, ConsoleError> {
        self.queue(MutationOp::TakeOver { conversation_id: conversation_id.into() }).await
    }

    pub async fn hand_back(&self, conversation_id: &str) -> Result<Queued, ConsoleError> {
        self.queue(MutationOp::HandBack { conversation_id: conversation_id.into() }).await
    }

    pub async fn mark_read(&self, conversation_id: &str) -> Result<Queued, ConsoleError> {
        self.queue(MutationOp::MarkRead { conversation_id: conversation_id.into() }).await
    }

    /// `resolved` or `open`.
    pub async fn set_status(&self, conversation_id: &str, status: &str) -> Result<Queued, ConsoleError> {
        let status = protocol::ConversationStatus::parse(status).ok_or_else(|| ConsoleError::Invalid("A conversation is `open` or `resolved`.".into()))?;
        self.queue(MutationOp::SetStatus { conversation_id: conversation_id.into(), status }).await
    }

    /// Assigns to a staff member (`None`: nobody).
    pub async fn assign(&self, conversation_id: &str, staff_id: Option<&str>) -> Result<Queued, ConsoleError> {
        self.queue(MutationOp::Assign { conversation_id: conversation_id.into(), staff_id: staff_id.map(Into::into) }).await
    }

    /// Adds and removes labels on a conversation (labels a colleague added meanwhile stay).
    pub async fn label_conversation(&self, conversation_id: &str, add: Vec<String>, remove: Vec<String>) -> Result<Queued, ConsoleError> {
        let (add, remove) = (Self::words(add, "label", 40)?, Self::words(remove, "label", 40)?);
        self.queue(MutationOp::LabelConversation { conversation_id: conversation_id.into(), add, remove }).await
    }

    /// Adds and removes a customer's tags (tags a colleague added meanwhile stay).
    pub async fn tag_customer(&self, customer_id: &str, add: Vec<String>, remove: Vec<String>) -> Result<Queued, ConsoleError> {
        let (add, remove) = (Self::words(add, "tag", 50)?, Self::words(remove, "tag", 50)?);
        self.queue(MutationOp::TagCustomer { customer_id: customer_id.into(), add, remove }).await
    }

    /// Labels or tags as the service will store them (trimmed), refused here when the service
    /// would refuse them, so nothing doomed waits in the outbox.
    fn words(words: Vec<String>, what: &str, max: usize) -> Result<Vec<String>, ConsoleError> {
        words
            .into_iter()
            .map(|w| {
                let w = w.trim().to_owned();
                if w.is_empty() || w.chars().count() > max || w.chars().any(char::is_control) {
                    Err(ConsoleError::Invalid(format!("Each {what} must be 1 to {max} characters.")))
                } else {
                    Ok(w)
                }
            })
            .collect()
    }

    pub async fn add_note(&self, conversation_id: &str, body: &str) -> Result<Queued, ConsoleError> {
        let body = Self::text(body, "note", 10_000)?;
        self.queue(MutationOp::AddNote { conversation_id: conversation_id.into(), note_id: NoteId::new(), body }).await
    }

    /// Books `start` (an instant, or a local time in the business's zone).
    pub async fn create_booking(&self, customer_id: &str, service_id: &str, start: &str, staff_id: Option<&str>) -> Result<Queued, ConsoleError> {
        self.queue(MutationOp::CreateBooking {
            booking_id: BookingId::new(),
            customer_id: customer_id.into(),
            service_id: service_id.into(),
            start: start.to_owned(),
            staff_id: staff_id.map(Into::into),
            notes: String::new(),
        })
        .await
    }

    pub async fn reschedule_booking(&self, booking_id: &str, expected_version: i64, start: &str, staff_id: Option<&str>) -> Result<Queued, ConsoleError> {
        self.queue(MutationOp::RescheduleBooking { booking_id: booking_id.into(), expected_version, start: start.to_owned(), staff_id: staff_id.map(Into::into) })
            .await
    }

    pub async fn cancel_booking(&self, booking_id: &str, expected_version: i64, reason: Option<&str>) -> Result<Queued, ConsoleError> {
        self.queue(MutationOp::CancelBooking { booking_id: booking_id.into(), expected_version, reason: reason.map(str::to_owned) }).await
    }

    /// Records that the customer confirmed (they told staff): queued like every change, so it
    /// works offline and is applied once; a stale `expected_version` comes back refused.
    pub async fn confirm_booking(&self, booking_id: &str, expected_version: i64) -> Result<Queued, ConsoleError> {
        self.queue(MutationOp::ConfirmBooking { booking_id: booking_id.into(), expected_version }).await
    }

    /// Changes a customer's profile; `changes` as in `PATCH /v1/customers/{id}`.
    pub async fn update_customer(&self, customer_id: &str, changes: protocol::UpdateCustomer) -> Result<Queued, ConsoleError> {
        self.queue(MutationOp::UpdateCustomer { customer_id: customer_id.into(), changes }).await
    }

    /// Adds a customer (a walk-in, someone who phoned); usable at once, offline too.
    pub async fn create_customer(&self, customer: protocol::CreateCustomer) -> Result<Queued, ConsoleError> {
        let given = |v: &Option<String>| v.as_deref().is_some_and(|v| !v.trim().is_empty());
        if !given(&customer.name) && !given(&customer.phone) && !given(&customer.whatsapp_id) {
            return Err(ConsoleError::Invalid("Give the customer at least a name or a phone number.".into()));
        }
        self.queue(MutationOp::CreateCustomer { customer_id: CustomerId::new(), customer }).await
    }

    /// Writes first to a customer on `channel`: on WhatsApp with an approved template
    /// (`template_id`, `variables`), on SMS with `body`.
    pub async fn start_conversation(
        &self,
        customer_id: &str,
        channel: &str,
        body: Option<&str>,
        template_id: Option<&str>,
        variables: Vec<String>,
    ) -> Result<Queued, ConsoleError> {
        let channel = protocol::Channel::parse(channel)
            .filter(|c| *c != protocol::Channel::Voice)
            .ok_or_else(|| ConsoleError::Invalid("A conversation is started on `whatsapp`, `twilio_whatsapp` or `sms`.".into()))?;
        let whatsapp = matches!(channel, protocol::Channel::Whatsapp | protocol::Channel::TwilioWhatsapp);
        let (body, template_id) = if whatsapp {
            let template = template_id.filter(|t| !t.is_empty()).ok_or_else(|| ConsoleError::Invalid("On WhatsApp the first message is an approved template: pick one.".into()))?;
            (None, Some(template.into()))
        } else {
            (Some(Self::text(body.unwrap_or_default(), "message", 4096)?), None)
        };
        self.queue(MutationOp::StartConversation {
            conversation_id: ConversationId::new(),
            customer_id: customer_id.into(),
            channel,
            message_id: MessageId::new(),
            body,
            template_id,
            variables,
        })
        .await
    }
}

#[cfg(all(test, unix))]
mod tests {
    #[tokio::test]
    async fn a_data_directory_it_creates_is_its_owners_alone() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("switchboard").join("console");
        super::Console::open(&data).await.unwrap();
        assert_eq!(std::fs::metadata(&data).unwrap().permissions().mode() & 0o777, 0o700);
    }
}
