// The one way the UI talks to the console core: `call(command)` and `listen(handler)`.
// In the desktop window these go over Tauri's IPC (`invoke("console", {command})`, event
// "console"); in a browser (development, the end-to-end run) over the UI bridge that
// `switchboard-console serve-ui` runs on loopback (`POST /invoke`, server-sent `/events`).
// Both reach the same `Desk::dispatch` in Rust, with the same generated types.
import type { AccountSecurity } from "./bindings/AccountSecurity";
import type { AuditEntry } from "./bindings/AuditEntry";
import type { Availability } from "./bindings/Availability";
import type { AvailabilityCheck } from "./bindings/AvailabilityCheck";
import type { AutomationRun } from "./bindings/AutomationRun";
import type { Page } from "./bindings/Page";
import type { CalendarConnection } from "./bindings/CalendarConnection";
import type { CalendarEntry } from "./bindings/CalendarEntry";
import type { CalendarTask } from "./bindings/CalendarTask";
import type { GoogleCalendarConnecting } from "./bindings/GoogleCalendarConnecting";
import type { Command } from "./bindings/Command";
import type { Customer } from "./bindings/Customer";
import type { CustomerProfile } from "./bindings/CustomerProfile";
import type { CustomerTimeline } from "./bindings/CustomerTimeline";
import type { DeskError } from "./bindings/DeskError";
import type { Directory } from "./bindings/Directory";
import type { Event } from "./bindings/Event";
import type { InboxPage } from "./bindings/InboxPage";
import type { MediaData } from "./bindings/MediaData";
import type { MediaThumbnail } from "./bindings/MediaThumbnail";
import type { OutboxEntry } from "./bindings/OutboxEntry";
import type { Queued } from "./bindings/Queued";
import type { ReportAnswer } from "./bindings/ReportAnswer";
import type { ReportCsv } from "./bindings/ReportCsv";
import type { ReportRows } from "./bindings/ReportRows";
import type { Session } from "./bindings/Session";
import type { Timeline } from "./bindings/Timeline";
import type { CustomerExport } from "./bindings/CustomerExport";
import type { EnrolledSession } from "./bindings/EnrolledSession";
import type { Handover } from "./bindings/Handover";
import type { RecoveryCodes } from "./bindings/RecoveryCodes";
import type { RetentionPolicy } from "./bindings/RetentionPolicy";
import type { RetentionPreview } from "./bindings/RetentionPreview";
import type { SecuritySettings } from "./bindings/SecuritySettings";
import type { TwoFactorEnrolment } from "./bindings/TwoFactorEnrolment";
import type { JsonValue } from "./bindings/serde_json/JsonValue";

export type { Command, DeskError, Event };

/** What each command answers: the `→` in the documentation of `Command` (console-core's
 * `desk.rs`). Indexed by every `cmd`, so a command added there does not compile here until its
 * answer is written down. */
interface Answers {
  session: Session;
  sign_in: Session;
  sign_in_enrol: TwoFactorEnrolment;
  sign_in_enrol_confirm: EnrolledSession;
  sign_up: Session;
  unlock: Session;
  sign_out: null;
  inbox: InboxPage;
  timeline: Timeline | null;
  customer: CustomerProfile | null;
  customer_timeline: CustomerTimeline | null;
  find_customers: Customer[];
  calendar: CalendarEntry[];
  directory: Directory;
  slots: Availability;
  check_slot: AvailabilityCheck;
  needs_human_count: number;
  /** The service's answer as it came; `endpoints.ts` gives each address its type. */
  settings: JsonValue;
  audit_log: Page<AuditEntry>;
  google_calendar_connect: GoogleCalendarConnecting;
  google_calendar_wait: CalendarConnection;
  calendar_tasks: CalendarTask[];
  report: ReportAnswer;
  report_rows: ReportRows;
  report_csv: ReportCsv;
  account_security: AccountSecurity;
  reauthenticate: null;
  change_password: null;
  two_factor_begin: TwoFactorEnrolment;
  two_factor_confirm: RecoveryCodes;
  two_factor_disable: null;
  security_settings: SecuritySettings;
  require_two_factor: SecuritySettings;
  reset_staff_sign_in: Handover;
  export_customer: CustomerExport;
  /** What was removed, by table. */
  erase_customer: JsonValue;
  retention: RetentionPolicy;
  set_retention: RetentionPolicy;
  retention_dry_run: RetentionPreview;
  send_message: Queued;
  attach: Queued;
  media: MediaData;
  thumbnail: MediaThumbnail | null;
  use_canned_response: Queued;
  send_template: Queued;
  take_over: Queued;
  hand_back: Queued;
  mark_read: Queued;
  set_status: Queued;
  assign: Queued;
  label_conversation: Queued;
  tag_customer: Queued;
  labels: string[];
  add_note: Queued;
  create_customer: Queued;
  start_conversation: Queued;
  create_booking: Queued;
  reschedule_booking: Queued;
  cancel_booking: Queued;
  confirm_booking: Queued;
  conversation_automations: AutomationRun[];
  outbox: OutboxEntry[];
  retry: null;
  discard: null;
  viewing: null;
  typing: null;
  sync_now: null;
}

type Cmd = Command["cmd"];
export type Answer<K extends Cmd> = Answers[K];
/** The command named `K`, with exactly its fields (a misspelt or extra field does not compile). */
type CommandOf<K extends Cmd> = { cmd: K } & Extract<Command, { cmd: K }>;

declare global {
  interface Window {
    __TAURI_INTERNALS__?: unknown;
  }
}

export class ConsoleError extends Error {
  kind: string;
  /** The service's stable error code when it refused (`validation_failed`, `forbidden`, …). */
  code?: string;
  constructor(e: DeskError) {
    super(e.message);
    this.kind = e.kind;
    this.code = e.code;
  }
}

function asDeskError(e: unknown): DeskError {
  if (e && typeof e === "object" && "kind" in e && "message" in e) return e as DeskError;
  return { kind: "offline", message: "The console is not responding. Restart Switchboard if this lasts." };
}

const inTauri = typeof window !== "undefined" && window.__TAURI_INTERNALS__ !== undefined;

/** Asks the console core; the answer's type follows from the command. */
export async function call<K extends Cmd>(command: CommandOf<K>): Promise<Answer<K>> {
  if (inTauri) {
    const { invoke } = await import("@tauri-apps/api/core");
    try {
      return await invoke<Answer<K>>("console", { command });
    } catch (e) {
      throw new ConsoleError(asDeskError(e));
    }
  }
  let response: Response;
  try {
    response = await fetch("invoke", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(command) });
  } catch (e) {
    throw new ConsoleError(asDeskError(e));
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new ConsoleError(asDeskError(body));
  return body as Answer<K>;
}

/** Where the page loads a file a message shows (for `<img src>`): the desktop app's `media:`
 * scheme, or the UI bridge's `media/…` in a browser, both answered by the console core
 * (`Desk::serve`), which answers only files of messages in this console. `small` is a picture's
 * small copy (the picture itself when it has none). */
export function fileAddress(form: "small" | "file", messageId: string, path: string): string {
  const address = `${form}/${encodeURIComponent(messageId)}${path.split("/").map(encodeURIComponent).join("/")}`;
  if (!inTauri) return `media/${address}`;
  // What `convertFileSrc` of @tauri-apps/api/core gives: media://localhost/ (http://media.localhost/ on Windows).
  const internals = window.__TAURI_INTERNALS__ as { convertFileSrc: (path: string, protocol: string) => string };
  return `${internals.convertFileSrc("", "media")}${address}`;
}

/** Subscribes to the console's events; returns the unsubscribe function. */
export function listen(handler: (event: Event) => void): () => void {
  if (inTauri) return tauriListen<Event[]>("console", (batch) => batch.forEach(handler));
  const source = new EventSource("events");
  source.onmessage = (m) => (JSON.parse(m.data) as Event[]).forEach(handler);
  return () => source.close();
}

function tauriListen<T>(name: string, handler: (payload: T) => void): () => void {
  let stop: (() => void) | null = null;
  let stopped = false;
  import("@tauri-apps/api/event").then(({ listen }) =>
    listen<T>(name, (e) => handler(e.payload)).then((unlisten) => {
      if (stopped) unlisten();
      else stop = unlisten;
    }),
  );
  return () => {
    stopped = true;
    stop?.();
  };
}

/** What the desktop window says of a download it finished: whether the file was written, and
 * where (`null` when the system does not say). */
export type FileSaved = { saved: boolean; path: string | null };

/** Starts the download of `url` (`start`) and, in the desktop app, waits for the window to finish
 * it. `null` in a browser, which shows its own downloads, and when the window has not said within
 * a minute. */
export async function whenFileSaved(url: string, start: () => void): Promise<FileSaved | null> {
  if (!inTauri) {
    start();
    return null;
  }
  const { listen } = await import("@tauri-apps/api/event");
  let told: (saved: FileSaved | null) => void = () => {};
  const finished = new Promise<FileSaved | null>((resolve) => (told = resolve));
  // Listening before the download starts, so that a quick one is not missed; another download
  // finishing meanwhile is not this one.
  const unlisten = await listen<FileSaved & { url: string }>("file_saved", (e) => {
    if (e.payload.url === url) told({ saved: e.payload.saved, path: e.payload.path });
  });
  const timer = setTimeout(() => told(null), 60_000);
  try {
    start();
    return await finished;
  } finally {
    clearTimeout(timer);
    unlisten();
  }
}

/** A notification was clicked in the desktop app: open this conversation. (No-op in a browser.) */
export function onOpenConversation(handler: (conversationId: string) => void): () => void {
  return inTauri ? tauriListen<string>("open_conversation", handler) : () => {};
}

/** The weekly summary's notification was clicked in the desktop app: open Reports. (No-op in a browser.) */
export function onOpenReports(handler: () => void): () => void {
  return inTauri ? tauriListen<null>("open_reports", () => handler()) : () => {};
}
