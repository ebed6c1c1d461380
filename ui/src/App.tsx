import { lazy, Suspense, useCallback, useEffect, useRef, useState } from "react";
import { ScreenError } from "./ScreenError";
import { call, listen, onOpenConversation, onOpenReports, ConsoleError } from "./api";
import type { Event } from "./bindings/Event";
import type { Session } from "./bindings/Session";
import type { Status } from "./bindings/Status";
import type { Directory } from "./bindings/Directory";
import type { PresenceEntry } from "./bindings/PresenceEntry";
import { dirtyFrom, type Dirty } from "./changes";
import { SignIn, Unlock } from "./SignIn";
import { Inbox } from "./Inbox";
import { StatusBar } from "./StatusBar";
import { FailedWebhooks } from "./FailedWebhooks";
import { seesFailedWebhooks } from "./webhooks";
import type { CalendarFocus } from "./Calendar";
import type { SetupProgress } from "./bindings/SetupProgress";
import * as endpoints from "./endpoints";
import { setupTab } from "./setup";
import { views, type View } from "./permissions";

// The calendar and settings load when first opened: the inbox, open all day, starts lighter.
// What only an open conversation shows is loaded when one is first opened: a start-up (the
// inbox) parses and keeps less (BENCHMARKS.md, the desktop console's memory and cold start).
const ConversationView = lazy(() => import("./Conversation").then((m) => ({ default: m.ConversationView })));
const CustomerPanel = lazy(() => import("./CustomerPanel").then((m) => ({ default: m.CustomerPanel })));
const CustomerHistory = lazy(() => import("./CustomerHistory").then((m) => ({ default: m.CustomerHistory })));
const NewConversation = lazy(() => import("./NewConversation").then((m) => ({ default: m.NewConversation })));
const CalendarView = lazy(() => import("./Calendar").then((m) => ({ default: m.CalendarView })));
const Settings = lazy(() => import("./Settings").then((m) => ({ default: m.Settings })));
const Setup = lazy(() => import("./Setup").then((m) => ({ default: m.Setup })));
const Reports = lazy(() => import("./Reports").then((m) => ({ default: m.Reports })));
const Account = lazy(() => import("./Account").then((m) => ({ default: m.Account })));

export interface Live {
  /** Bumped per view when something it shows changed. */
  versions: Record<keyof Dirty, number>;
  presence: PresenceEntry[];
  typing: { conversationId: string; staffId: string; at: number } | null;
}

const zero: Record<keyof Dirty, number> = { inbox: 0, conversation: 0, customer: 0, calendar: 0, directory: 0, outbox: 0, status: 0, tasks: 0 };

export function App() {
  const [session, setSession] = useState<Session | null>(null);
  const [status, setStatus] = useState<Status | null>(null);
  const [directory, setDirectory] = useState<Directory>({ wait_target_minutes: 5, staff: [], services: [], canned_responses: [], templates: [] });
  const [picked, setView] = useState<View>("inbox");
  // Where the first-run setup stands (owners and admins; kept by the service).
  const [setup, setSetup] = useState<SetupProgress | null>(null);
  const [conversationId, setConversationId] = useState<string | null>(null);
  const [customerId, setCustomerId] = useState<string | null>(null);
  const [live, setLive] = useState<Live>({ versions: zero, presence: [], typing: null });
  const [error, setError] = useState<string | null>(null);
  // Signing out while actions made here still wait to be sent asks first (they would be lost).
  const [unsent, setUnsent] = useState<string | null>(null);
  const [starting, setStarting] = useState(false);
  // The open customer's whole history (every channel) instead of the one conversation.
  const [history, setHistory] = useState(false);
  const open = useRef({ conversationId, customerId });
  open.current = { conversationId, customerId };

  // Status events can overtake an answer: a status read with the session is only used if no
  // status event arrived while the question was out (else it would put back an older state).
  const statusEvents = useRef(0);
  const loadSession = useCallback(async () => {
    try {
      const seen = statusEvents.current;
      const s = await call({ cmd: "session" });
      setSession(s);
      if (statusEvents.current === seen) setStatus(s.status);
    } catch (e) {
      setError((e as Error).message);
    }
  }, []);

  useEffect(() => {
    loadSession();
  }, [loadSession]);

  // Events arrive in bursts; fold each animation frame's worth into one re-render.
  useEffect(() => {
    let queue: Event[] = [];
    let scheduled = false;
    const flush = () => {
      scheduled = false;
      const events = queue;
      queue = [];
      const dirty = dirtyFrom(events, open.current);
      setLive((l) => {
        const versions = { ...l.versions };
        (Object.keys(dirty) as (keyof Dirty)[]).forEach((k) => {
          if (dirty[k]) versions[k] += 1;
        });
        let presence = l.presence;
        let typing = l.typing;
        for (const e of events) {
          if (e.type === "presence") presence = e.online;
          if (e.type === "typing") typing = { conversationId: e.conversation_id, staffId: e.staff_id, at: Date.now() };
        }
        return { versions, presence, typing };
      });
      for (const e of events) {
        if (e.type === "status") {
          statusEvents.current += 1;
          setStatus(e.status);
        }
        // The role changed: the service's new list shows and hides views at once.
        if (e.type === "permissions") setSession((s) => (s ? { ...s, permissions: e.permissions } : s));
      }
    };
    const stop = listen((e) => {
      queue.push(e);
      if (!scheduled) {
        scheduled = true;
        requestAnimationFrame(flush);
      }
    });
    return stop;
  }, []);

  // Opens a conversation from elsewhere (a clicked notification, a report's rows).
  const openConversation = useCallback(async (id: string) => {
    setView("inbox");
    setConversationId(id);
    setCustomerId(null);
    const timeline = await call({ cmd: "timeline", conversation_id: id }).catch(() => null);
    if (timeline && open.current.conversationId === id) setCustomerId(timeline.conversation.customer_id);
  }, []);
  useEffect(() => onOpenConversation(openConversation), [openConversation]);
  // The weekly summary's notification (owners only get it) opens Reports.
  useEffect(() => onOpenReports(() => setView("reports")), []);

  // Opens a booking on the calendar (a report's rows).
  const [calendarFocus, setCalendarFocus] = useState<CalendarFocus | null>(null);
  const openBooking = useCallback((bookingId: string, start: string) => {
    setCalendarFocus({ bookingId, start, nonce: Date.now() });
    setView("calendar");
  }, []);

  const signedIn = session?.account != null && !session.locked;

  // The count of customers waiting for a person, in the title (the tray shows it too).
  useEffect(() => {
    if (!signedIn) return;
    call({ cmd: "needs_human_count" }).then((n) => (document.title = n > 0 ? `(${n}) Switchboard` : "Switchboard"), () => {});
  }, [signedIn, live.versions.inbox]);
  useEffect(() => {
    if (!signedIn) return;
    call({ cmd: "directory" }).then(setDirectory, () => {});
    // The signed-in person's name comes with the staff directory (after the first sync).
    call({ cmd: "session" }).then(setSession, () => {});
  }, [signedIn, live.versions.directory]);

  // A business still being set up offers the rest of its setup (online only; quietly nothing offline).
  const role = session?.account?.role;
  useEffect(() => {
    if (!signedIn || role === "agent") return;
    endpoints.setup.get().then(setSetup, () => {});
  }, [signedIn, role]);

  // Tell colleagues which conversation is open here.
  useEffect(() => {
    if (signedIn) call({ cmd: "viewing", conversation_id: conversationId }).catch(() => {});
  }, [signedIn, conversationId]);

  if (!session) return <div className="splash">{error ?? "Starting…"}</div>;
  // After signing in, the engine's status comes as events (the page listens from the start).
  if (!session.account)
    return (
      <SignIn
        keyring={session.keyring}
        onSignedIn={(s, newBusiness) => {
          setSession(s);
          setView(newBusiness ? "setup" : "inbox");
        }}
      />
    );

  const me = session.account.staff_id;
  const shown = views(session.permissions);
  // A view taken away (the role changed while it was open) falls back to the inbox.
  const view = shown.includes(picked) ? picked : "inbox";
  async function signOut(discard = false) {
    try {
      await call({ cmd: "sign_out", discard });
    } catch (e) {
      if (e instanceof ConsoleError && e.kind === "unsent") {
        setUnsent(e.message);
        return;
      }
      if (e instanceof ConsoleError) setError(e.message);
    }
    setUnsent(null);
    setConversationId(null);
    setCustomerId(null);
    await loadSession();
  }
  if (session.locked) return <Unlock session={session} onUnlocked={setSession} onSignOut={signOut} unsent={unsent} />;

  return (
    <div className="shell">
      <header className="topbar">
        <strong className="brand">Switchboard</strong>
        <nav>
          <button className={view === "inbox" ? "tab active" : "tab"} onClick={() => setView("inbox")}>Inbox</button>
          <button className={view === "calendar" ? "tab active" : "tab"} onClick={() => setView("calendar")}>Calendar</button>
          {/* What this person may open is the service's to say (`permissions.ts`). */}
          {shown.includes("reports") ? <button className={view === "reports" ? "tab active" : "tab"} onClick={() => setView("reports")}>Reports</button> : null}
          {shown.includes("settings") ? <button className={view === "settings" ? "tab active" : "tab"} onClick={() => setView("settings")}>Settings</button> : null}
          {shown.includes("setup") && (setupTab(setup) || view === "setup") ? (
            <button className={view === "setup" ? "tab active" : "tab"} onClick={() => setView("setup")}>{setupTab(setup) ?? "Setup"}</button>
          ) : null}
        </nav>
        <StatusBar status={status} version={live.versions.outbox} />
        <button className={view === "account" ? "who tab active" : "who tab"} title={`${session.account.email}: your account (password, two-factor sign-in)`} onClick={() => setView("account")}>{session.name ?? session.account.email}</button>
        <button className="link" onClick={() => signOut()}>Sign out</button>
      </header>
      <div className="banners">
        {unsent ? (
          <section className="unsent" role="alert" aria-label="Not sent yet">
            <span>{unsent}</span>
            <button onClick={() => setUnsent(null)}>Stay signed in</button>
            <button className="danger" onClick={() => signOut(true)}>Sign out anyway</button>
          </section>
        ) : null}
        {seesFailedWebhooks(session.account.role) ? <FailedWebhooks /> : null}
      </div>
      {view === "inbox" ? (
        <main className="inbox-layout">
          <Inbox version={live.versions.inbox} waitTarget={directory.wait_target_minutes} selected={conversationId} onOpen={(id, customer) => { setConversationId(id); setCustomerId(customer); setHistory(false); }} onNew={() => setStarting(true)} />
          <Suspense fallback={<section className="empty">Loading…</section>}>
          {starting ? (
            <NewConversation
              directory={directory}
              onClose={() => setStarting(false)}
              onStarted={(id, customer) => { setStarting(false); setConversationId(id); setCustomerId(customer); }}
            />
          ) : null}
          {conversationId && customerId && history ? (
            <CustomerHistory
              customerId={customerId}
              version={live.versions.conversation + live.versions.customer}
              onClose={() => setHistory(false)}
              onOpen={(id) => { setConversationId(id); setHistory(false); }}
            />
          ) : conversationId ? (
            <ConversationView
              key={conversationId}
              conversationId={conversationId}
              me={me}
              version={live.versions.conversation}
              directory={directory}
              presence={live.presence}
              typing={live.typing}
            />
          ) : (
            <section className="empty">Pick a conversation on the left (↑ ↓ and Enter work too).</section>
          )}
          {customerId && conversationId ? <CustomerPanel customerId={customerId} version={live.versions.customer} directory={directory} onHistory={() => setHistory(true)} role={session.account.role} onErased={() => { setConversationId(null); setCustomerId(null); }} /> : null}
          </Suspense>
        </main>
      ) : (
        <ScreenError screen={view}>
          <Suspense fallback={<section className="empty">Loading…</section>}>
            {view === "calendar" ? (
              <CalendarView version={live.versions.calendar} tasksVersion={live.versions.tasks} directory={directory} focus={calendarFocus} me={me} />
            ) : view === "setup" ? (
              <Setup onProgress={setSetup} onClose={() => setView("inbox")} permissions={session.permissions} />
            ) : view === "reports" ? (
              <Reports directory={directory} onOpenConversation={openConversation} onOpenBooking={openBooking} />
            ) : view === "account" ? (
              <Account permissions={session.permissions} me={{ id: me, name: session.name ?? session.account.email }} tasksVersion={live.versions.tasks} />
            ) : (
              <Settings tasksVersion={live.versions.tasks} permissions={session.permissions} />
            )}
          </Suspense>
        </ScreenError>
      )}
    </div>
  );
}
