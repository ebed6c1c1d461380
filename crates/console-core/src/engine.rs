//! The sync engine: one actor that owns the connection to the service and is the only writer of
//! the mirror. Its states are explicit ([`SyncState`]): bootstrapping (an empty mirror), catching
//! up, live, offline (waiting to retry, with capped jittered backoff) and signed out. On every
//! connect it opens the live socket, pushes the outbox in order, pulls every page (one local
//! transaction each) and only then goes live; each poke (or a quiet minute) pulls again, and each
//! queued mutation is pushed at once. A refused mutation is settled as failed with its reason and
//! never blocks the ones after it; a resync wipes the mirror and keeps the outbox.
//!
//! Clock and transport are injected, so tests can cut the network and skip time.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use protocol::{ClientFrame, EntityKind, MutationOp, PresenceEntry, PushRequest, ServerFrame};
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use crate::alerts::{self, Alert, AlertGate, Notifier};
use crate::store::{LocalStore, StoreError};
use crate::transport::{Transport, TransportError};

/// Time, for backoff and periodic pulls.
pub trait Clock: Send + Sync + 'static {
    fn now_ms(&self) -> i64;
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        jiff::Timestamp::now().as_millisecond()
    }
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
}

#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// Pull this often even without pokes (pokes are hints and may be lost).
    pub safety_pull: Duration,
    pub page_limit: u32,
    /// Fetch the pictures new messages bring, with their small copies, in the background as they
    /// arrive ([`crate::media::prepare_arrived`]), rather than when a timeline first shows them.
    pub prepare_arrived: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            backoff_base: Duration::from_millis(500),
            backoff_cap: Duration::from_secs(30),
            safety_pull: Duration::from_secs(60),
            page_limit: 2000,
            prepare_arrived: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SyncState {
    Starting,
    /// First sync into an empty mirror.
    Bootstrapping,
    CatchingUp,
    Live,
    /// The service cannot be reached; the next attempt is in `retry_in_ms`.
    Offline {
        reason: String,
        #[ts(type = "number")]
        retry_in_ms: u64,
    },
    /// Sign in again (the session ended, or this console is too old).
    SignedOut { reason: String },
    Stopped,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Status {
    pub state: SyncState,
    #[ts(type = "number")]
    pub cursor: i64,
    /// Local mutations not yet confirmed.
    pub pending: usize,
    /// Local mutations the service refused (shown with their reason).
    pub failed: usize,
}

/// What the UI hears about, batched: one `Changed` per applied page.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    Changed { entities: Vec<(EntityKind, String)>, resync: bool },
    Outbox,
    Presence { online: Vec<PresenceEntry> },
    Typing { conversation_id: String, staff_id: String },
    Alert { alert: Alert },
    Status { status: Status },
    /// What the signed-in person may do changed (their role did): the UI shows and hides by it.
    Permissions { permissions: Vec<protocol::Permission> },
}

enum Command {
    Kick,
    SyncNow(oneshot::Sender<Result<(), TransportError>>),
    Viewing(Option<String>),
    Typing(String),
    Stop,
}

/// Talks to the running engine.
#[derive(Clone)]
pub struct SyncHandle {
    commands: mpsc::UnboundedSender<Command>,
    status: watch::Receiver<Status>,
    events: broadcast::Sender<Event>,
    /// Turns `true` when the engine has stopped (nothing of it writes to the store any more).
    ended: watch::Receiver<bool>,
}

impl SyncHandle {
    /// Something was queued: push it now if online.
    pub fn kick(&self) {
        let _ = self.commands.send(Command::Kick);
    }
    /// One push-and-pull now; offline, says so at once.
    pub async fn sync_now(&self) -> Result<(), TransportError> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(Command::SyncNow(tx)).map_err(|_| TransportError::Offline("stopped".into()))?;
        rx.await.map_err(|_| TransportError::Offline("stopped".into()))?
    }
    pub fn viewing(&self, conversation_id: Option<String>) {
        let _ = self.commands.send(Command::Viewing(conversation_id));
    }
    pub fn typing(&self, conversation_id: String) {
        let _ = self.commands.send(Command::Typing(conversation_id));
    }
    pub fn stop(&self) {
        let _ = self.commands.send(Command::Stop);
    }
    /// Stops the engine and waits until it has: a pass under way finishes first, so what it
    /// pulled is written before, not after, whatever comes next (signing out wipes the store).
    pub async fn stop_and_wait(&self) {
        self.stop();
        let mut ended = self.ended.clone();
        let _ = ended.wait_for(|ended| *ended).await;
    }
    pub fn status(&self) -> Status {
        self.status.borrow().clone()
    }
    pub fn watch_status(&self) -> watch::Receiver<Status> {
        self.status.clone()
    }
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }
}

/// What the engine needs; see [`spawn`].
pub struct Parts {
    pub store: LocalStore,
    pub transport: Arc<dyn Transport>,
    pub clock: Arc<dyn Clock>,
    pub client_id: String,
    /// The signed-in staff member.
    pub me: String,
    pub notifier: Option<Arc<dyn Notifier>>,
    pub config: EngineConfig,
}

/// One push-and-pull pass without the actor (the CLI's `sync`, and the engine's own cycle).
pub struct Syncer {
    store: LocalStore,
    transport: Arc<dyn Transport>,
    client_id: String,
    me: String,
    page_limit: u32,
    /// What this console did (no alert for what the person just did).
    here: alerts::DoneHere,
    /// The next pull starts with a resync (the person's role changed).
    reload: bool,
}

/// What one pass did.
#[derive(Debug, Default)]
pub struct Pass {
    pub changed: Vec<(EntityKind, String)>,
    pub resync: bool,
    pub alerts: Vec<Alert>,
    pub outbox_changed: bool,
}

impl Syncer {
    pub fn new(store: LocalStore, transport: Arc<dyn Transport>, client_id: String, me: String, page_limit: u32) -> Syncer {
        Syncer { store, transport, client_id, me, page_limit, here: alerts::DoneHere::default(), reload: false }
    }

    /// Catches up, pushes the outbox in order, then pulls what that changed. Pulling first means
    /// a resync (the mirror wiped and reloaded) happens before the outbox is replayed, and the
    /// person's queued actions are checked against the latest state.
    /// The next pull starts over from 0, keeping the outbox (what is here was chosen for a role
    /// this person no longer has).
    pub fn reload_next(&mut self) {
        self.reload = true;
    }

    pub async fn pass(&mut self) -> Result<Pass, TransportError> {
        let mut pass = Pass::default();
        self.pull(&mut pass).await?;
        if self.push(&mut pass).await? {
            self.pull(&mut pass).await?;
        }
        Ok(pass)
    }

    /// Pushes what was just queued, then pulls (online, after a local action).
    pub async fn push_then_pull(&mut self) -> Result<Pass, TransportError> {
        let mut pass = Pass::default();
        self.push(&mut pass).await?;
        self.pull(&mut pass).await?;
        Ok(pass)
    }

    /// Pushes every pending mutation; `true` if there were any.
    async fn push(&mut self, pass: &mut Pass) -> Result<bool, TransportError> {
        let mut renumbered = false;
        let mut pushed = false;
        loop {
            let batch = self.store.pending(100).await.map_err(local)?;
            if batch.is_empty() {
                return Ok(pushed);
            }
            pushed = true;
            for m in &batch {
                match &m.op {
                    MutationOp::CancelBooking { booking_id, .. } => self.here.cancelled.push(booking_id.to_string()),
                    MutationOp::Assign { conversation_id, staff_id: Some(staff_id) }
                        if staff_id.as_str() == self.me && !self.here.assigned_to_me.iter().any(|c| c == conversation_id.as_str()) =>
                    {
                        self.here.assigned_to_me.push(conversation_id.to_string())
                    }
                    _ => {}
                }
            }
            // Attachments go up first: the service needs the file to send it.
            crate::media::upload_pending(&self.store, self.transport.as_ref(), &batch).await?;
            let response = self.transport.push(&PushRequest { client_id: self.client_id.as_str().into(), mutations: batch }).await?;
            let failed = self.store.settle(&response.outcomes).await.map_err(local)?;
            pass.outbox_changed |= !response.outcomes.is_empty();
            pass.alerts.extend(failed.iter().filter_map(alerts::for_refusal));
            match response.expected_id {
                // The service is missing mutations this device no longer has (a restored
                // backup): renumber what is pending from where it stands, once.
                Some(expected) if !renumbered => {
                    tracing::warn!(expected, "the service expects earlier mutations; renumbering the outbox");
                    self.store.renumber_pending(expected).await.map_err(local)?;
                    renumbered = true;
                }
                Some(_) => return Err(TransportError::Server("the service and this device disagree on the outbox".into())),
                None if response.outcomes.is_empty() => return Ok(pushed),
                None => {}
            }
        }
    }

    /// Pulls until caught up. The next page is fetched while the current one is applied, so a
    /// bootstrap costs about the longer of the two, not their sum.
    async fn pull(&mut self, pass: &mut Pass) -> Result<(), TransportError> {
        if std::mem::take(&mut self.reload) {
            self.resync(pass).await?;
        }
        'from_cursor: loop {
            let cursor = self.store.cursor().await.map_err(local)?;
            let mut page = match self.transport.pull(cursor, &self.client_id, self.page_limit).await {
                Err(TransportError::ResyncRequired) => {
                    self.resync(pass).await?;
                    continue 'from_cursor;
                }
                other => other?,
            };
            // A pull from 0 fills an empty mirror: no per-row "before" reads, no alerts for history.
            let bootstrap = cursor == 0;
            loop {
                let transport = self.transport.clone();
                let fetch_next = async {
                    if page.has_more {
                        Some(transport.pull(page.cursor, &self.client_id, self.page_limit).await)
                    } else {
                        None
                    }
                };
                let (applied, next) = tokio::join!(self.store.apply_page_for(Some(&self.me), &page.changes, page.cursor, !bootstrap), fetch_next);
                let applied = applied.map_err(local)?;
                if !bootstrap {
                    pass.alerts.extend(alerts::for_changes(&self.store, &applied, &self.me, &mut self.here).await.map_err(local)?);
                }
                pass.changed.extend(applied.into_iter().map(|a| (a.entity, a.id)));
                // A push whose answer was lost: the page carries the outcomes.
                let failed = self.store.settle(&page.outcomes).await.map_err(local)?;
                pass.alerts.extend(failed.iter().filter_map(alerts::for_refusal));
                match next {
                    None => return Ok(()),
                    Some(Err(TransportError::ResyncRequired)) => {
                        self.resync(pass).await?;
                        continue 'from_cursor;
                    }
                    Some(next) => page = next?,
                }
            }
        }
    }

    async fn resync(&mut self, pass: &mut Pass) -> Result<(), TransportError> {
        tracing::info!("resync: wiping the mirror (the outbox stays) and pulling from 0");
        self.store.wipe_mirror().await.map_err(local)?;
        pass.resync = true;
        Ok(())
    }
}

fn local(e: StoreError) -> TransportError {
    match e {
        // Someone signed this person out of the console elsewhere: stop, as for a sign-in ended.
        StoreError::SignedOut => TransportError::SignedOut(e.to_string()),
        // The local file failing is not the network; surface it, retry later.
        e => TransportError::Server(format!("local store: {e}")),
    }
}

struct Engine {
    syncer: Syncer,
    parts_store: LocalStore,
    clock: Arc<dyn Clock>,
    notifier: Option<Arc<dyn Notifier>>,
    config: EngineConfig,
    commands: mpsc::UnboundedReceiver<Command>,
    status: watch::Sender<Status>,
    events: broadcast::Sender<Event>,
    gate: AlertGate,
    attempt: u32,
    /// New messages' ids, for the pictures they bring to be fetched in the background.
    preparer: Option<mpsc::UnboundedSender<Vec<String>>>,
}

/// Starts the engine on the current tokio runtime.
pub fn spawn(parts: Parts) -> SyncHandle {
    let (commands_tx, commands) = mpsc::unbounded_channel();
    let (status_tx, status) = watch::channel(Status { state: SyncState::Starting, cursor: 0, pending: 0, failed: 0 });
    let (events, _) = broadcast::channel(1024);
    let preparer = parts.config.prepare_arrived.then(|| crate::media::spawn_preparer(parts.store.clone(), parts.transport.clone()));
    let engine = Engine {
        syncer: Syncer::new(parts.store.clone(), parts.transport, parts.client_id, parts.me, parts.config.page_limit),
        parts_store: parts.store,
        clock: parts.clock,
        notifier: parts.notifier,
        config: parts.config,
        commands,
        status: status_tx,
        events: events.clone(),
        gate: AlertGate::default(),
        attempt: 0,
        preparer,
    };
    let (ended_tx, ended) = watch::channel(false);
    tokio::spawn(async move {
        engine.run().await;
        let _ = ended_tx.send(true);
    });
    SyncHandle { commands: commands_tx, status, events, ended }
}

enum Exit {
    Stop,
    Lost(TransportError),
}

impl Engine {
    async fn set_state(&mut self, state: SyncState) {
        let outbox = self.parts_store.outbox().await.unwrap_or_default();
        let status = Status {
            state,
            cursor: self.parts_store.cursor().await.unwrap_or(0),
            pending: outbox.iter().filter(|e| e.state == "pending").count(),
            failed: outbox.iter().filter(|e| e.state == "failed").count(),
        };
        if *self.status.borrow() != status {
            let _ = self.events.send(Event::Status { status: status.clone() });
            self.status.send_replace(status);
        }
    }

    async fn run(mut self) {
        loop {
            let error = match self.connected().await {
                Exit::Stop => break,
                Exit::Lost(e) => e,
            };
            if !error.is_transient() {
                self.set_state(SyncState::SignedOut { reason: error.to_string() }).await;
                // Wait to be told to try again (signed in again) or to stop.
                loop {
                    match self.commands.recv().await {
                        Some(Command::Stop) | None => return self.stopped().await,
                        Some(Command::SyncNow(tx)) => {
                            let _ = tx.send(Err(error.clone()));
                        }
                        Some(Command::Kick) => break,
                        Some(_) => {}
                    }
                }
                continue;
            }
            self.attempt = self.attempt.saturating_add(1);
            let delay = backoff(self.attempt, self.config.backoff_base, self.config.backoff_cap);
            self.set_state(SyncState::Offline { reason: error.to_string(), retry_in_ms: delay.as_millis() as u64 }).await;
            let wake = self.clock.sleep(delay);
            tokio::pin!(wake);
            loop {
                tokio::select! {
                    _ = &mut wake => break,
                    command = self.commands.recv() => match command {
                        Some(Command::Stop) | None => return self.stopped().await,
                        // Offline: say so at once rather than make the caller wait.
                        Some(Command::SyncNow(tx)) => { let _ = tx.send(Err(error.clone())); }
                        // Queued while offline: picked up when the connection returns.
                        Some(Command::Kick) => { let _ = self.events.send(Event::Outbox); self.set_state(SyncState::Offline { reason: error.to_string(), retry_in_ms: delay.as_millis() as u64 }).await; }
                        Some(_) => {}
                    }
                }
            }
        }
        self.stopped().await;
    }

    async fn stopped(&mut self) {
        self.set_state(SyncState::Stopped).await;
    }

    async fn connected(&mut self) -> Exit {
        let cursor = self.parts_store.cursor().await.unwrap_or(0);
        self.set_state(if cursor == 0 { SyncState::Bootstrapping } else { SyncState::CatchingUp }).await;
        let transport = self.syncer.transport.clone();
        let mut live = match transport.live(&self.syncer.client_id, cursor).await {
            Ok(live) => live,
            Err(e) => return Exit::Lost(e),
        };
        // What this person may do is the service's to say; a role change closes the socket and
        // the next welcome carries the new list.
        if !live.permissions.is_empty() {
            let before = self.parts_store.permissions().await.unwrap_or_default();
            if let Ok(true) = self.parts_store.set_permissions(&live.permissions).await {
                // What this console holds was chosen by the service for the old role (an agent is
                // sent no invitations): it reloads, keeping its outbox.
                if !before.is_empty() {
                    self.syncer.reload_next();
                }
                let _ = self.events.send(Event::Permissions { permissions: std::mem::take(&mut live.permissions) });
            }
        }
        if let Err(e) = self.cycle().await {
            return Exit::Lost(e);
        }
        self.attempt = 0;
        self.set_state(SyncState::Live).await;
        loop {
            let safety = self.clock.sleep(self.config.safety_pull);
            let step = tokio::select! {
                frame = live.frames.recv() => match frame {
                    Some(ServerFrame::Poke { seq }) => {
                        let cursor = self.parts_store.cursor().await.unwrap_or(0);
                        if seq > cursor { self.cycle().await } else { Ok(()) }
                    }
                    Some(ServerFrame::Presence { online }) => { let _ = self.events.send(Event::Presence { online }); Ok(()) }
                    Some(ServerFrame::Typing { conversation_id, staff_id }) => { let _ = self.events.send(Event::Typing { conversation_id: conversation_id.into(), staff_id: staff_id.into() }); Ok(()) }
                    Some(_) => Ok(()),
                    None => Err(TransportError::Offline("the connection was lost".into())),
                },
                command = self.commands.recv() => match command {
                    Some(Command::Kick) => self.cycle_after_action().await,
                    Some(Command::SyncNow(tx)) => { let r = self.cycle().await; let _ = tx.send(r.clone()); r }
                    Some(Command::Viewing(c)) => { let _ = live.send.send(ClientFrame::Viewing { conversation_id: c.map(Into::into) }).await; Ok(()) }
                    Some(Command::Typing(c)) => { let _ = live.send.send(ClientFrame::Typing { conversation_id: c.into() }).await; Ok(()) }
                    Some(Command::Stop) | None => return Exit::Stop,
                },
                _ = safety => self.cycle().await,
            };
            if let Err(e) = step {
                return Exit::Lost(e);
            }
        }
    }

    async fn cycle(&mut self) -> Result<(), TransportError> {
        let result = self.syncer.pass().await;
        self.report(result).await
    }

    async fn cycle_after_action(&mut self) -> Result<(), TransportError> {
        let result = self.syncer.push_then_pull().await;
        self.report(result).await
    }

    /// Tells the UI and the person what a pass changed.
    async fn report(&mut self, result: Result<Pass, TransportError>) -> Result<(), TransportError> {
        let pass = match result {
            Ok(pass) => pass,
            Err(e) => {
                let _ = self.events.send(Event::Outbox);
                return Err(e);
            }
        };
        if let Some(preparer) = &self.preparer {
            let messages: Vec<String> = pass.changed.iter().filter(|(kind, _)| *kind == EntityKind::Message).map(|(_, id)| id.clone()).collect();
            if !messages.is_empty() {
                let _ = preparer.send(messages);
            }
        }
        if !pass.changed.is_empty() || pass.resync {
            let _ = self.events.send(Event::Changed { entities: pass.changed, resync: pass.resync });
        }
        if pass.outbox_changed {
            let _ = self.events.send(Event::Outbox);
        }
        let mut admitted = self.gate.admit(pass.alerts, self.clock.now_ms());
        // The weekly summary, once per device: never folded into a burst's summary. Failing to
        // fetch it (offline) leaves it for a later pass.
        match crate::weekly::check(&self.syncer.store, self.syncer.transport.as_ref(), self.clock.now_ms()).await {
            Ok(weekly) => admitted.extend(weekly),
            Err(e) => tracing::debug!(error = %e, "the weekly summary could not be fetched"),
        }
        for alert in admitted {
            if let Some(n) = &self.notifier {
                n.notify(&alert).await;
            }
            let _ = self.events.send(Event::Alert { alert });
        }
        let state = self.status.borrow().state.clone();
        self.set_state(state).await;
        Ok(())
    }
}

/// Capped exponential backoff with full jitter: somewhere in `[base/2, min(cap, base·2ⁿ)]`, so
/// a room full of consoles does not reconnect in step after an outage.
pub fn backoff(attempt: u32, base: Duration, cap: Duration) -> Duration {
    let ceiling = base.saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1).min(16))).min(cap);
    let floor = (base / 2).min(ceiling);
    let spread = ceiling.saturating_sub(floor).as_millis() as u64;
    floor + Duration::from_millis(if spread == 0 { 0 } else { rand::random::<u64>() % (spread + 1) })
}

#[cfg(test)]
mod tests {
    use super::backoff;
    use std::time::Duration;

    #[test]
    fn backoff_grows_with_jitter_and_stays_under_the_cap() {
        let base = Duration::from_millis(500);
        let cap = Duration::from_secs(30);
        for attempt in 1..40 {
            let d = backoff(attempt, base, cap);
            assert!(d >= Duration::from_millis(250) && d <= cap, "attempt {attempt}: {d:?}");
        }
        let first: Vec<Duration> = (0..50).map(|_| backoff(1, base, cap)).collect();
        assert!(first.iter().all(|d| *d <= base));
        let late: Vec<Duration> = (0..50).map(|_| backoff(20, base, cap)).collect();
        assert!(late.iter().any(|d| *d > Duration::from_secs(5)), "grows");
        assert!(late.windows(2).any(|w| w[0] != w[1]), "jittered");
    }
}
