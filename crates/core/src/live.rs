//! Live sessions with consoles (the sync WebSocket, whose I/O the HTTP service does): the console
//! says `hello` with its access token, device id, cursor and protocol version; the service answers
//! `welcome{seq}` and then a `poke{seq}` after every commit of that business — a hint to pull,
//! never the data itself (pulls are authoritative, so a lost poke costs latency only). Sessions
//! also carry presence (who is online, which conversation they are looking at) and typing.
//!
//! Several instances on one PostgreSQL behave as one: commits, presence and typing travel between
//! them as [`Signal`]s, so a colleague connected to another instance is seen and heard. Each
//! instance announces its own sessions' presence (and again every [`PRESENCE_REFRESH`]); the
//! presence of an instance that stopped announcing is dropped after [`PRESENCE_TTL`].
//!
//! A session serves one staff member and stays checked against their account: deactivation, and
//! the end of the sign-in it was opened with (signing out, a reused refresh token, a new
//! password), end it at once (close 4001), a role change ends it so the console reconnects with
//! its new rights (4009), and the account is also re-checked on every heartbeat in case a signal
//! was lost.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use protocol::{close, ClientFrame, ConversationId, PresenceEntry, Role, ServerFrame, SYNC_PROTOCOL};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, watch};

use crate::accounts::{self, Actor};
use crate::store::Signal;
use crate::Core;

/// How often a live session is pinged and its account re-checked.
pub const HEARTBEAT: Duration = Duration::from_secs(20);
/// How often an instance re-announces its sessions' presence to the others.
pub const PRESENCE_REFRESH: Duration = Duration::from_secs(30);
/// Presence another instance has not re-announced for this long is dropped.
pub const PRESENCE_TTL: Duration = Duration::from_secs(75);
/// The first frame must arrive within this.
pub const HELLO_WITHIN: Duration = Duration::from_secs(10);
/// Connections one client address may hold before their hello: silent sockets from one place
/// cannot fill the service's sessions, which are counted only once signed in.
pub const WAITING_PER_ADDRESS: usize = 16;
/// Connections waiting for their hello from all addresses at once (a console's hello follows its
/// connection within milliseconds; a burst of reconnections after a restart passes through).
pub const WAITING_IN_ALL: usize = 1024;
/// Live sessions one staff member may hold at once (the desktop app, a browser, a CLI `watch`,
/// on a few computers): one person cannot take every session from their colleagues.
pub const SESSIONS_PER_STAFF: usize = 16;
/// A person's typing is passed on at most this often, from all their sessions together (the
/// console says it every 3 s while they type; anything faster is noise for their colleagues).
const TYPING_EVERY_MS: i64 = 1_000;
/// Close code for "your account changed; reconnect" (role changes).
pub const ACCOUNT_CHANGED: u16 = 4009;

/// What travels between instances inside [`Signal::Live`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum LiveFrame {
    /// All of the sending instance's sessions in the business, as they are now.
    Presence { online: Vec<PresenceEntry> },
    Typing { conversation_id: ConversationId, staff_id: protocol::StaffId },
}

#[derive(Default)]
struct Presence {
    /// This instance's sessions: business → session → entry.
    local: HashMap<String, HashMap<u64, PresenceEntry>>,
    /// Other instances: business → instance → (entries, when announced, ms).
    remote: HashMap<String, HashMap<String, (Vec<PresenceEntry>, i64)>>,
}

/// This process's live sessions.
pub struct Hub {
    /// Signed-in sessions.
    connections: AtomicUsize,
    /// Connections waiting for their hello, by client address.
    waiting: Mutex<HashMap<String, usize>>,
    /// Signed-in sessions, by staff member.
    per_staff: Mutex<HashMap<String, usize>>,
    /// When each staff member's typing was last passed on (ms, by the service's clock).
    typed: Mutex<HashMap<String, i64>>,
    next_id: AtomicU64,
    presence: Mutex<Presence>,
    /// Frames for every session of a business (presence, typing), local and relayed.
    frames: broadcast::Sender<(String, ServerFrame)>,
    /// Flipped when the service shuts down: every session says goodbye (1001), so consoles
    /// reconnect (to another instance, or to this one when it is back) instead of hanging on.
    closing: watch::Sender<bool>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            connections: AtomicUsize::new(0),
            waiting: Mutex::default(),
            per_staff: Mutex::default(),
            typed: Mutex::default(),
            next_id: AtomicU64::new(1),
            presence: Mutex::new(Presence::default()),
            frames: broadcast::channel(1024).0,
            closing: watch::channel(false).0,
        }
    }
}

/// A connection's place in a count; the count goes down when it is dropped.
pub struct Slot<'h> {
    hub: &'h Hub,
    held: Held,
}

enum Held {
    Session,
    Waiting(String),
    Staff(String),
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        match &self.held {
            Held::Session => {
                self.hub.connections.fetch_sub(1, Ordering::SeqCst);
            }
            Held::Waiting(key) => give_back(&self.hub.waiting, key),
            Held::Staff(key) => give_back(&self.hub.per_staff, key),
        }
    }
}

/// One more under `key` unless it holds `max` already.
fn take(counts: &Mutex<HashMap<String, usize>>, key: &str, max: usize) -> bool {
    let mut counts = counts.lock().unwrap_or_else(|e| e.into_inner());
    let held = counts.entry(key.to_owned()).or_default();
    if *held >= max {
        return false;
    }
    *held += 1;
    true
}

fn give_back(counts: &Mutex<HashMap<String, usize>>, key: &str) {
    let mut counts = counts.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(held) = counts.get_mut(key) {
        *held -= 1;
        if *held == 0 {
            counts.remove(key);
        }
    }
}

/// Why a session ends, as the WebSocket close it becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Goodbye {
    pub code: u16,
    pub reason: String,
}

impl Goodbye {
    fn new(code: u16, reason: impl Into<String>) -> Goodbye {
        Goodbye { code, reason: reason.into() }
    }
}

/// What a session does next.
#[derive(Debug)]
pub enum Next {
    Send(ServerFrame),
    /// Send a ping (the transport's own) to keep the connection honest.
    Ping,
    Close(Goodbye),
}

impl Hub {
    /// A connection from `address` waiting for its hello, or `None` when that address has
    /// [`WAITING_PER_ADDRESS`] waiting already, or the process [`WAITING_IN_ALL`].
    pub fn admit_waiting(&self, address: &str) -> Option<Slot<'_>> {
        let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        if waiting.values().sum::<usize>() >= WAITING_IN_ALL {
            return None;
        }
        let held = waiting.entry(address.to_owned()).or_default();
        if *held >= WAITING_PER_ADDRESS {
            return None;
        }
        *held += 1;
        Some(Slot { hub: self, held: Held::Waiting(address.to_owned()) })
    }

    /// Whether `staff_id`'s typing at `now` is passed on: at most once a [`TYPING_EVERY_MS`] for
    /// the person, however many sessions they type from.
    fn may_type(&self, staff_id: &str, now: i64) -> bool {
        let mut typed = self.typed.lock().unwrap_or_else(|e| e.into_inner());
        match typed.get(staff_id) {
            Some(at) if now - at < TYPING_EVERY_MS => false,
            _ => {
                typed.insert(staff_id.to_owned(), now);
                true
            }
        }
    }

    /// Connections from `address` waiting for their hello.
    pub fn waiting_from(&self, address: &str) -> usize {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner()).get(address).copied().unwrap_or(0)
    }

    /// Places for a signed-in session: one of this process's `max`, and one of its staff member's
    /// [`SESSIONS_PER_STAFF`]; when either is full, the goodbye that says which.
    pub fn admit(&self, max: usize, staff_id: &str) -> Result<(Slot<'_>, Slot<'_>), Goodbye> {
        if self.connections.fetch_add(1, Ordering::SeqCst) >= max {
            self.connections.fetch_sub(1, Ordering::SeqCst);
            return Err(Goodbye::new(close::TOO_MANY, "too many connections; retry later"));
        }
        let session = Slot { hub: self, held: Held::Session };
        if !take(&self.per_staff, staff_id, SESSIONS_PER_STAFF) {
            return Err(Goodbye::new(close::TOO_MANY, format!("this sign-in has {SESSIONS_PER_STAFF} live connections open already; close one")));
        }
        Ok((session, Slot { hub: self, held: Held::Staff(staff_id.to_owned()) }))
    }

    /// Closes every live session (the service is shutting down).
    pub fn close_all(&self) {
        self.closing.send_replace(true);
    }

    /// A staff member's account changed (deactivated, new role, a sign-in ended): their sessions
    /// re-check it, here and on the other instances.
    pub fn account_changed(&self, core: &Core, staff_id: &str) {
        let db = core.db.clone();
        let signal = Signal::AccountChanged { staff_id: staff_id.to_owned() };
        tokio::spawn(async move {
            if let Err(e) = db.announce(signal).await {
                tracing::warn!(error = %e, "could not announce an account change");
            }
        });
    }

    /// Merged presence of the business (all instances), and tells the others ours if it changed.
    fn set_presence(&self, core: &Core, business: &str, session: u64, entry: Option<PresenceEntry>) {
        let local = {
            let mut presence = self.presence.lock().unwrap_or_else(|e| e.into_inner());
            let sessions = presence.local.entry(business.to_owned()).or_default();
            match entry {
                Some(e) => sessions.insert(session, e),
                None => sessions.remove(&session),
            };
            sorted(sessions.values().cloned().collect())
        };
        self.publish_presence(core, business);
        announce(core, business, LiveFrame::Presence { online: local });
    }

    fn publish_presence(&self, core: &Core, business: &str) {
        let online = self.online(core.db.now_ms(), business);
        let _ = self.frames.send((business.to_owned(), ServerFrame::Presence { online }));
    }

    /// Everyone online in the business, on any instance.
    fn online(&self, now_ms: i64, business: &str) -> Vec<PresenceEntry> {
        let presence = self.presence.lock().unwrap_or_else(|e| e.into_inner());
        let mut all: Vec<PresenceEntry> = presence.local.get(business).map(|s| s.values().cloned().collect()).unwrap_or_default();
        let fresh = now_ms - PRESENCE_TTL.as_millis() as i64;
        for (entries, at) in presence.remote.get(business).map(|r| r.values().collect::<Vec<_>>()).unwrap_or_default() {
            if *at >= fresh {
                all.extend(entries.iter().cloned());
            }
        }
        sorted(all)
    }

    /// A live frame from another instance.
    fn relayed(&self, core: &Core, instance: &str, business: &str, frame: serde_json::Value) {
        match serde_json::from_value::<LiveFrame>(frame) {
            Ok(LiveFrame::Presence { online }) => {
                {
                    let mut presence = self.presence.lock().unwrap_or_else(|e| e.into_inner());
                    presence.remote.entry(business.to_owned()).or_default().insert(instance.to_owned(), (online, core.db.now_ms()));
                }
                self.publish_presence(core, business);
            }
            Ok(LiveFrame::Typing { conversation_id, staff_id }) => {
                let _ = self.frames.send((business.to_owned(), ServerFrame::Typing { conversation_id, staff_id }));
            }
            Err(e) => tracing::warn!(error = %e, "unreadable live frame from another instance"),
        }
    }

    /// Relays the other instances' live frames into this process until `stop`, and re-announces
    /// this instance's presence now and then (so the others can tell it is still here).
    pub async fn run(core: Core, mut stop: watch::Receiver<bool>) {
        let hub = core.live.clone();
        let mut signals = core.db.subscribe();
        let mut refresh = tokio::time::interval(PRESENCE_REFRESH);
        loop {
            tokio::select! {
                signal = signals.recv() => match signal {
                    Ok(Signal::Live { instance, business_id, frame }) if instance != core.db.instance() => {
                        hub.relayed(&core, &instance, &business_id, frame);
                    }
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = refresh.tick() => {
                    let businesses: Vec<(String, Vec<PresenceEntry>)> = {
                        let presence = hub.presence.lock().unwrap_or_else(|e| e.into_inner());
                        presence.local.iter().filter(|(_, s)| !s.is_empty()).map(|(b, s)| (b.clone(), sorted(s.values().cloned().collect()))).collect()
                    };
                    for (business, online) in businesses {
                        announce(&core, &business, LiveFrame::Presence { online });
                    }
                }
                _ = stop.changed() => return,
            }
        }
    }
}

fn sorted(mut online: Vec<PresenceEntry>) -> Vec<PresenceEntry> {
    online.sort_by(|a, b| (&a.staff_id, &a.viewing).cmp(&(&b.staff_id, &b.viewing)));
    online.dedup();
    online
}

/// Tells the other instances (PostgreSQL) about a live frame of ours.
fn announce(core: &Core, business: &str, frame: LiveFrame) {
    if core.db.engine() != crate::store::Engine::Postgres {
        return;
    }
    let Ok(frame) = serde_json::to_value(&frame) else { return };
    let signal = Signal::Live { instance: core.db.instance().to_owned(), business_id: business.to_owned(), frame };
    let db = core.db.clone();
    tokio::spawn(async move {
        if let Err(e) = db.announce_to_others(signal).await {
            tracing::warn!(error = %e, "could not relay a live frame to the other instances");
        }
    });
}

/// One console's live session.
pub struct Session {
    core: Core,
    pub actor: Actor,
    id: u64,
    signals: broadcast::Receiver<Signal>,
    frames: broadcast::Receiver<(String, ServerFrame)>,
    closing: watch::Receiver<bool>,
    heartbeat: tokio::time::Interval,
    /// Work a signal asked for that must survive `next` being cancelled halfway (the socket's
    /// own read won the `select!`): the signal is already taken from its channel, so it is
    /// remembered here and done on the next call.
    due: Due,
}

#[derive(Default)]
struct Due {
    /// The account changed (or a heartbeat came): re-check it before anything else.
    recheck: bool,
    /// The session fell behind its signals: tell the console to pull the latest seq.
    catch_up: bool,
    /// The heartbeat: a ping once the account passed its re-check.
    ping: bool,
}

impl Session {
    /// Reads the console's first frame: a hello with a good token and our protocol version.
    /// Returns the session and its welcome, or the goodbye to close with.
    pub async fn open(core: &Core, first: Option<&str>) -> Result<(Session, ServerFrame), Goodbye> {
        let Some(text) = first else { return Err(Goodbye::new(close::NO_HELLO, "say hello first")) };
        let Ok(ClientFrame::Hello { token, protocol, client_id, cursor }) = serde_json::from_str::<ClientFrame>(text) else {
            return Err(Goodbye::new(close::NO_HELLO, "the first frame must be a hello"));
        };
        // The rules a push holds a device id to, and a pull a cursor (what they refuse was welcomed).
        if !crate::sync::valid_client_id(client_id.as_str()) || cursor < 0 {
            return Err(Goodbye::new(close::NO_HELLO, "a hello has the device id (letters, digits and -, at most 64) and a cursor of 0 or more"));
        }
        if protocol != SYNC_PROTOCOL {
            return Err(Goodbye::new(close::PROTOCOL_MISMATCH, format!("this service speaks protocol {SYNC_PROTOCOL}")));
        }
        // Subscribe before reading the account and the seq, so no role change or commit falls
        // between what the welcome says and what the session hears next.
        let signals = core.db.subscribe();
        let frames = core.live.frames.subscribe();
        let actor = accounts::authenticate(core, &token).await.map_err(|_| Goodbye::new(close::AUTH_FAILED, "sign in again"))?;
        let seq: i64 = sqlx::query_scalar("SELECT last_seq FROM businesses WHERE id = $1")
            .bind(&actor.business_id)
            .fetch_one(core.db.reader())
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "a live session could not read the business's seq");
                Goodbye::new(1011, "please reconnect")
            })?;
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        heartbeat.reset();
        let session = Session {
            core: core.clone(),
            id: core.live.next_id.fetch_add(1, Ordering::SeqCst),
            actor,
            signals,
            frames,
            closing: core.live.closing.subscribe(),
            heartbeat,
            due: Due::default(),
        };
        let permissions = accounts::permissions(session.actor.role);
        Ok((session, ServerFrame::Welcome { seq, protocol: SYNC_PROTOCOL, permissions }))
    }

    /// Tells colleagues this person is online (once the session has its place: one refused after
    /// its hello is never seen coming and going).
    pub fn present(&self) {
        let entry = PresenceEntry { staff_id: self.actor.staff_id.clone().into(), viewing: None };
        self.core.live.set_presence(&self.core, &self.actor.business_id, self.id, Some(entry));
    }

    /// Waits for the next thing to tell the console (cancel-safe: use it in a `select!` with the
    /// socket's own reads).
    pub async fn next(&mut self) -> Next {
        loop {
            if *self.closing.borrow_and_update() {
                return Next::Close(Goodbye::new(1001, "the service is restarting"));
            }
            // Each flag is cleared only once its work is done, so a cancelled call loses nothing.
            if self.due.recheck {
                let goodbye = self.recheck().await;
                self.due.recheck = false;
                if let Some(goodbye) = goodbye {
                    return Next::Close(goodbye);
                }
            }
            if self.due.ping {
                self.due.ping = false;
                return Next::Ping;
            }
            if self.due.catch_up {
                let latest: i64 = sqlx::query_scalar("SELECT last_seq FROM businesses WHERE id = $1")
                    .bind(&self.actor.business_id)
                    .fetch_one(self.core.db.reader())
                    .await
                    .unwrap_or(0);
                self.due.catch_up = false;
                return Next::Send(ServerFrame::Poke { seq: latest });
            }
            tokio::select! {
                _ = self.closing.changed() => continue,
                signal = self.signals.recv() => match signal {
                    Ok(Signal::Committed { business_id, seq }) if business_id == self.actor.business_id => return Next::Send(ServerFrame::Poke { seq }),
                    Ok(Signal::AccountChanged { staff_id }) if staff_id == self.actor.staff_id => self.due.recheck = true,
                    Ok(_) => {}
                    // Fell behind: one poke with the latest seq says "pull".
                    Err(broadcast::error::RecvError::Lagged(_)) => self.due.catch_up = true,
                    Err(broadcast::error::RecvError::Closed) => return Next::Close(Goodbye::new(1001, "the service is restarting")),
                },
                frame = self.frames.recv() => match frame {
                    Ok((business, frame)) if business == self.actor.business_id => {
                        let mine = matches!(&frame, ServerFrame::Typing { staff_id, .. } if *staff_id == self.actor.staff_id);
                        if !mine {
                            return Next::Send(frame);
                        }
                    }
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return Next::Close(Goodbye::new(1001, "the service is restarting")),
                },
                _ = self.heartbeat.tick() => {
                    // The re-check comes first on the next turn; the ping goes once it passed.
                    self.due.recheck = true;
                    self.due.ping = true;
                }
            }
        }
    }

    /// What the console said; the answer to send, if any.
    pub fn heard(&mut self, text: &str) -> Option<ServerFrame> {
        let core = self.core.clone();
        match serde_json::from_str::<ClientFrame>(text) {
            Ok(ClientFrame::Ping) => Some(ServerFrame::Pong),
            Ok(ClientFrame::Viewing { conversation_id }) => {
                let entry = PresenceEntry { staff_id: self.actor.staff_id.clone().into(), viewing: conversation_id };
                core.live.set_presence(&core, &self.actor.business_id, self.id, Some(entry));
                None
            }
            Ok(ClientFrame::Typing { conversation_id }) => {
                if !core.live.may_type(&self.actor.staff_id, core.db.now_ms()) {
                    return None;
                }
                let staff_id: protocol::StaffId = self.actor.staff_id.clone().into();
                let frame = ServerFrame::Typing { conversation_id: conversation_id.clone(), staff_id: staff_id.clone() };
                let _ = core.live.frames.send((self.actor.business_id.clone(), frame));
                announce(&core, &self.actor.business_id, LiveFrame::Typing { conversation_id, staff_id });
                None
            }
            Ok(ClientFrame::Hello { .. }) | Err(_) => None,
        }
    }

    /// Whether the account still may hold this session: `Some` goodbye when not.
    async fn recheck(&mut self) -> Option<Goodbye> {
        let row = sqlx::query_as::<_, (i64, String, Option<i64>)>(
            "SELECT st.active, st.role, se.revoked_at FROM staff st JOIN sessions se ON se.staff_id = st.id WHERE st.id = $1 AND se.id = $2",
        )
        .bind(&self.actor.staff_id)
        .bind(&self.actor.session_id)
        .fetch_optional(self.core.db.reader())
        .await;
        match row {
            Ok(Some((active, _, _))) if active == 0 => Some(Goodbye::new(close::AUTH_FAILED, "this account has been deactivated")),
            Ok(Some((_, _, Some(_)))) | Ok(None) => Some(Goodbye::new(close::AUTH_FAILED, "this sign-in has ended")),
            Ok(Some((_, role, None))) if Role::parse(&role) != Some(self.actor.role) => {
                Some(Goodbye::new(ACCOUNT_CHANGED, "your role changed; reconnecting"))
            }
            Ok(Some(_)) => None,
            // The database is unreachable: keep the session (it only carries hints).
            Err(e) => {
                tracing::warn!(error = %e, "could not re-check a live session's account");
                None
            }
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let core = self.core.clone();
        core.live.set_presence(&core, &self.actor.business_id, self.id, None);
    }
}
