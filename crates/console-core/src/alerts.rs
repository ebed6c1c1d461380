//! Which changes deserve a native notification, and how many: a customer needs a person, a
//! customer wrote in a conversation I hold, the assistant booked or a booking was cancelled
//! behind my back, a message failed to send. Each alert has a key, so the same thing is never
//! announced twice; and there is a rate limit, so a burst (the morning's backlog) becomes one
//! summary instead of a wall of pop-ups. Delivery is a [`Notifier`]: native notifications
//! through notify-rust (D-Bus on Linux) in the app, a recorder in tests.

use std::collections::{HashMap, VecDeque};

use futures_util::future::BoxFuture;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use serde_json::Value;

use crate::store::{Applied, LocalStore, OutboxEntry, StoreError};
use protocol::{EntityKind, MutationOp};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    NeedsHuman,
    /// A colleague assigned a conversation to me.
    Assigned,
    MessageInMine,
    AssistantBooked,
    BookingCancelled,
    SendFailed,
    /// Several alerts folded into one by the rate limit.
    Summary,
    /// Last week's figures, for the owner (opens the Reports screen).
    WeeklySummary,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Alert {
    pub kind: AlertKind,
    /// The same key is announced once.
    pub key: String,
    pub title: String,
    pub body: String,
    /// Clicking the notification opens this conversation.
    pub conversation_id: Option<String>,
    /// Clicking the notification opens the Reports screen.
    #[serde(default)]
    pub opens_reports: bool,
}

impl Alert {
    /// An alert that opens `conversation_id` (if any) when clicked.
    fn about(kind: AlertKind, key: String, title: impl Into<String>, body: String, conversation_id: Option<String>) -> Alert {
        Alert { kind, key, title: title.into(), body, conversation_id, opens_reports: false }
    }
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn preview(text: &str) -> String {
    let mut p: String = text.chars().take(140).collect();
    if text.chars().count() > 140 {
        p.push('…');
    }
    p
}

async fn customer_name(store: &LocalStore, id: &str) -> Result<String, StoreError> {
    let c = store.entity(EntityKind::Customer, id).await?;
    Ok(c.as_ref().map(|c| if s(c, "name").is_empty() { s(c, "phone") } else { s(c, "name") }).filter(|n| !n.is_empty()).unwrap_or("A customer").to_owned())
}

/// What this console did itself, so that the person is not told what they just did.
#[derive(Debug, Default)]
pub struct DoneHere {
    /// Bookings cancelled here.
    pub cancelled: Vec<String>,
    /// Conversations I assigned to myself here (each forgotten once its change comes back).
    pub assigned_to_me: Vec<String>,
}

/// The alerts a pulled page raises for staff member `me`.
pub async fn for_changes(store: &LocalStore, applied: &[Applied], me: &str, here: &mut DoneHere) -> Result<Vec<Alert>, StoreError> {
    let mut alerts = Vec::new();
    for change in applied {
        let Some(after) = &change.after else { continue };
        let before = change.before.as_ref();
        match change.entity {
            EntityKind::Conversation => {
                let open = s(after, "status") == "open";
                if s(after, "mode") == "needs_human" && before.map(|b| s(b, "mode")) != Some("needs_human") && open {
                    let name = customer_name(store, s(after, "customer_id")).await?;
                    alerts.push(Alert::about(AlertKind::NeedsHuman, format!("needs_human:{}:{}", change.id, s(after, "updated_at")), format!("{name} needs a person"), preview(s(after, "last_message_preview")), Some(change.id.clone())));
                }
                let assigned_now = s(after, "assignee_staff_id") == me && before.map(|b| s(b, "assignee_staff_id")) != Some(me);
                if assigned_now {
                    if let Some(i) = here.assigned_to_me.iter().position(|c| *c == change.id) {
                        here.assigned_to_me.swap_remove(i);
                    } else if open {
                        let name = customer_name(store, s(after, "customer_id")).await?;
                        alerts.push(Alert::about(AlertKind::Assigned, format!("assigned:{}:{}", change.id, s(after, "updated_at")), format!("{name} was assigned to you"), preview(s(after, "last_message_preview")), Some(change.id.clone())));
                    }
                }
            }
            EntityKind::Message => {
                let conversation_id = s(after, "conversation_id");
                if before.is_none() && s(after, "direction") == "inbound" {
                    let conversation = store.entity(EntityKind::Conversation, conversation_id).await?;
                    let mine = conversation.as_ref().is_some_and(|c| s(c, "mode") == "human" && s(c, "holder_staff_id") == me);
                    if mine {
                        let name = customer_name(store, conversation.as_ref().map(|c| s(c, "customer_id")).unwrap_or_default()).await?;
                        alerts.push(Alert::about(AlertKind::MessageInMine, format!("message:{}", change.id), format!("{name} wrote"), preview(s(after, "body")), Some(conversation_id.to_owned())));
                    }
                }
                let failed_now = s(after, "delivery_status") == "failed" && before.map(|b| s(b, "delivery_status")) != Some("failed");
                let ours = s(after, "author_staff_id") == me || s(after, "author_kind") == "assistant";
                if failed_now && ours && s(after, "direction") == "outbound" {
                    alerts.push(Alert::about(AlertKind::SendFailed, format!("failed:{}", change.id), "A message could not be sent", preview(if s(after, "error").is_empty() { s(after, "body") } else { s(after, "error") }), Some(conversation_id.to_owned())));
                }
            }
            EntityKind::Booking => {
                let by_assistant = matches!(s(after, "source"), "assistant" | "voice");
                let when = s(after, "local_start").split('[').next().unwrap_or_default().replace('T', " ");
                let when: String = when.chars().take(16).collect();
                if before.is_none() && by_assistant && matches!(s(after, "status"), "confirmed" | "pending") {
                    let name = customer_name(store, s(after, "customer_id")).await?;
                    alerts.push(Alert::about(AlertKind::AssistantBooked, format!("booked:{}", change.id), "The assistant made a booking", format!("{name}, {when}"), None));
                }
                let cancelled_now = s(after, "status") == "cancelled" && before.is_some_and(|b| s(b, "status") != "cancelled");
                if cancelled_now && !here.cancelled.contains(&change.id) {
                    let name = customer_name(store, s(after, "customer_id")).await?;
                    alerts.push(Alert::about(AlertKind::BookingCancelled, format!("cancelled:{}", change.id), "A booking was cancelled", format!("{name}, {when}"), None));
                }
            }
            _ => {}
        }
    }
    Ok(alerts)
}

/// An alert for a reply of mine the service refused (kept as a draft).
pub fn for_refusal(entry: &OutboxEntry) -> Option<Alert> {
    if !matches!(entry.op, MutationOp::SendMessage { .. } | MutationOp::SendMedia { .. } | MutationOp::UseCannedResponse { .. } | MutationOp::SendTemplate { .. } | MutationOp::StartConversation { .. }) {
        return None;
    }
    Some(Alert {
        kind: AlertKind::SendFailed,
        key: format!("refused:{}", entry.id),
        title: "Your reply was not sent".into(),
        body: entry.message.clone().unwrap_or_else(|| "The service refused it; it is kept as a draft.".into()),
        conversation_id: entry.op.conversation_id().map(|c| c.to_string()),
        opens_reports: false,
    })
}

/// Dedupe and rate limit: each key once per `dedupe_ms`, at most `burst` alerts per
/// `window_ms`; the rest of a batch over the limit folds into one summary.
pub struct AlertGate {
    seen: HashMap<String, i64>,
    shown: VecDeque<i64>,
    pub burst: usize,
    pub window_ms: i64,
    pub dedupe_ms: i64,
}

impl Default for AlertGate {
    fn default() -> Self {
        AlertGate { seen: HashMap::new(), shown: VecDeque::new(), burst: 4, window_ms: 60_000, dedupe_ms: 30 * 60_000 }
    }
}

impl AlertGate {
    /// What to show now, of `alerts` raised at `now_ms`.
    pub fn admit(&mut self, alerts: Vec<Alert>, now_ms: i64) -> Vec<Alert> {
        self.seen.retain(|_, at| now_ms - *at < self.dedupe_ms);
        while self.shown.front().is_some_and(|at| now_ms - at >= self.window_ms) {
            self.shown.pop_front();
        }
        let mut out = Vec::new();
        let mut folded = 0usize;
        for alert in alerts {
            if self.seen.contains_key(&alert.key) {
                continue;
            }
            self.seen.insert(alert.key.clone(), now_ms);
            if self.shown.len() < self.burst {
                self.shown.push_back(now_ms);
                out.push(alert);
            } else {
                folded += 1;
            }
        }
        if folded > 0 {
            out.push(Alert {
                kind: AlertKind::Summary,
                key: format!("summary:{now_ms}"),
                title: "Switchboard".into(),
                body: format!("{folded} more update{} need your attention", if folded == 1 { "" } else { "s" }),
                conversation_id: None,
                opens_reports: false,
            });
        }
        out
    }
}

/// Shows alerts to the person.
pub trait Notifier: Send + Sync + 'static {
    fn notify<'a>(&'a self, alert: &'a Alert) -> BoxFuture<'a, ()>;
}

/// The desktop app's identifier (`tauri.conf.json`): Windows and macOS attribute notifications
/// to the installed app by it.
#[cfg_attr(not(any(target_os = "windows", target_os = "macos")), allow(dead_code))]
const APP_IDENTIFIER: &str = "app.switchboard.console";

/// Native notifications (org.freedesktop.Notifications on Linux, via notify-rust). With
/// [`DesktopNotifier::on_open`], clicking a notification about a conversation hands its id over
/// (the app opens it); with [`DesktopNotifier::on_reports`], clicking the weekly summary says so
/// (the app opens the Reports screen).
#[derive(Default)]
pub struct DesktopNotifier {
    on_open: Option<Arc<dyn Fn(String) + Send + Sync>>,
    on_reports: Option<Arc<dyn Fn() + Send + Sync>>,
}

impl DesktopNotifier {
    pub fn new() -> DesktopNotifier {
        DesktopNotifier::default()
    }

    pub fn on_open(open: impl Fn(String) + Send + Sync + 'static) -> DesktopNotifier {
        DesktopNotifier { on_open: Some(Arc::new(open)), on_reports: None }
    }

    /// Also: clicking a notification that opens the Reports screen calls `open`.
    pub fn on_reports(self, open: impl Fn() + Send + Sync + 'static) -> DesktopNotifier {
        DesktopNotifier { on_reports: Some(Arc::new(open)), ..self }
    }
}

impl Notifier for DesktopNotifier {
    fn notify<'a>(&'a self, alert: &'a Alert) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let mut n = notify_rust::Notification::new();
            n.appname("Switchboard").summary(&alert.title).body(&alert.body);
            // Windows shows a toast as the app whose Start-menu shortcut carries this
            // AppUserModelID (the NSIS and MSI installers make it from the identifier); without
            // it the toast would be PowerShell's.
            #[cfg(target_os = "windows")]
            n.app_id(APP_IDENTIFIER);
            // macOS attributes notifications to a bundle identifier, asked once per process.
            #[cfg(target_os = "macos")]
            {
                static SET: std::sync::Once = std::sync::Once::new();
                SET.call_once(|| {
                    let _ = notify_rust::set_application(APP_IDENTIFIER);
                });
            }
            #[cfg(all(unix, not(target_os = "macos")))]
            {
                n.hint(notify_rust::Hint::Category(match alert.kind {
                    AlertKind::SendFailed => "im.error".into(),
                    _ => "im.received".into(),
                }));
                if let Some(c) = &alert.conversation_id {
                    n.action("default", "Open").hint(notify_rust::Hint::Custom("switchboard-conversation".into(), c.clone()));
                } else if alert.opens_reports {
                    n.action("default", "Open Reports");
                }
                match n.show_async().await {
                    Ok(handle) => {
                        let click: Option<Box<dyn FnOnce() + Send>> = match (&alert.conversation_id, alert.opens_reports) {
                            (Some(conversation), _) => self.on_open.clone().map(|open| {
                                let conversation = conversation.clone();
                                Box::new(move || open(conversation)) as Box<dyn FnOnce() + Send>
                            }),
                            (None, true) => self.on_reports.clone().map(|open| Box::new(move || open()) as Box<dyn FnOnce() + Send>),
                            (None, false) => None,
                        };
                        if let Some(click) = click {
                            // Waiting for the click blocks (until it is clicked or closed): not on the runtime.
                            tokio::task::spawn_blocking(move || {
                                let mut click = Some(click);
                                handle.wait_for_action(|action| {
                                    if action == "default" {
                                        if let Some(click) = click.take() {
                                            click();
                                        }
                                    }
                                })
                            });
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "could not show a notification"),
                }
            }
            #[cfg(not(all(unix, not(target_os = "macos"))))]
            if let Err(e) = n.show() {
                tracing::warn!(error = %e, "could not show a notification");
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(key: &str) -> Alert {
        Alert { kind: AlertKind::NeedsHuman, key: key.into(), title: key.into(), body: String::new(), conversation_id: None, opens_reports: false }
    }

    #[test]
    fn a_key_is_announced_once_and_bursts_fold_into_a_summary() {
        let mut gate = AlertGate::default();
        assert_eq!(gate.admit(vec![alert("a"), alert("a")], 0).len(), 1);
        assert!(gate.admit(vec![alert("a")], 1_000).is_empty(), "deduplicated");
        let burst: Vec<Alert> = (0..10).map(|i| alert(&format!("b{i}"))).collect();
        let shown = gate.admit(burst, 2_000);
        assert_eq!(shown.len(), 4, "3 more fit the minute, then one summary: {shown:?}");
        assert_eq!(shown.last().unwrap().kind, AlertKind::Summary);
        assert_eq!(shown.last().unwrap().body, "7 more updates need your attention");
        // A minute later there is room again; after the dedupe window the key may come back.
        assert_eq!(gate.admit(vec![alert("c")], 62_001).len(), 1);
        assert_eq!(gate.admit(vec![alert("a")], 31 * 60_000).len(), 1);
    }
}
