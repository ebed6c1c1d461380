// After the booking, as the console shows it: the Automations editor's checks (the service's own
// rules, said before saving and in the editor's words), how a refusal from the service reads,
// a booking's confirmation state, and the "Unconfirmed soon" list the calendar reaches. Pure
// functions, tested under Vitest.
import { byInstant } from "./format";
import type { AutomationRun } from "./bindings/AutomationRun";
import type { AutomationSettings } from "./bindings/AutomationSettings";
import type { AutomationTemplates } from "./bindings/AutomationTemplates";
import type { AutomationTexts } from "./bindings/AutomationTexts";
import type { Booking } from "./bindings/Booking";
import type { CalendarEntry } from "./bindings/CalendarEntry";
import type { ReminderRule } from "./bindings/ReminderRule";
import type { TemplateVariable } from "./bindings/TemplateVariable";

/** `{ key: label }` tables as the editor lists them, in their order. A `Record` over the generated
 * type, so a text or template kind the service adds cannot be left without a label. */
function listed<K extends string>(labels: Record<K, string>): { key: K; label: string }[] {
  return (Object.keys(labels) as K[]).map((key) => ({ key, label: labels[key] }));
}

/** The variables a text may use (`{customer_name}` …), with what they become. */
export const VARIABLES: { name: TemplateVariable; means: string }[] = listed<TemplateVariable>({
  customer_name: "the customer's first name",
  business_name: "your business's name",
  service: "the service booked",
  staff: "who they see",
  date: "the local date",
  time: "the local time",
  reply_codes: "“Reply C to confirm, R to reschedule, X to cancel”",
}).map(({ key, label }) => ({ name: key, means: label }));

const NAMES = new Set<string>(VARIABLES.map((v) => v.name));

/** Each text, in the order and words the editor shows them. */
export const TEXTS = listed<keyof AutomationTexts>({
  confirmation_created: "Confirmation: booked",
  confirmation_moved: "Confirmation: moved",
  confirmation_cancelled: "Confirmation: cancelled",
  reminder: "Reminder",
  reply_confirmed: "Answer to “C” (confirmed)",
  reply_cancelled_already: "Answer about a cancelled booking",
  text_back: "Missed-call text-back",
  follow_up: "Follow-up",
  no_show: "No-show rebooking",
});

/** The kinds of message a WhatsApp template can stand in for outside the 24-hour window. */
export const TEMPLATE_KINDS = listed<keyof AutomationTemplates>({
  confirmation: "Confirmations",
  reminder: "Reminders",
  text_back: "Missed-call text-back",
  follow_up: "Follow-ups",
  no_show: "No-show rebooking",
});

/** `{names}` in a text that the service does not know (the service refuses such a text). */
export function unknownVariables(text: string): string[] {
  const unknown: string[] = [];
  // The service reads `{` up to the next `}`: the same here, so the two never disagree.
  let rest = text;
  for (;;) {
    const open = rest.indexOf("{");
    if (open < 0) break;
    const close = rest.indexOf("}", open + 1);
    if (close < 0) break;
    const name = rest.slice(open + 1, close);
    if (!NAMES.has(name) && !unknown.includes(name)) unknown.push(name);
    rest = rest.slice(close + 1);
  }
  return unknown;
}

const MAX_MINUTES = 30 * 1440;
const HHMM = /^([01]\d|2[0-3]):[0-5]\d$/;
const TEMPLATE_NAME = /^[a-z0-9_]+$/;

export interface Problem {
  /** What it is about, as the editor labels it ("Reminder", "Quiet hours" …). */
  field: string;
  message: string;
}

/** What the service would refuse in these settings, in the editor's words; empty: it can be saved. */
export function automationProblems(s: AutomationSettings): Problem[] {
  const problems: Problem[] = [];
  if (s.reminder_rules.length > 5) problems.push({ field: "Reminders", message: "At most 5 reminders." });
  s.reminder_rules.forEach((r, i) => {
    if (!Number.isInteger(r.minutes_before) || r.minutes_before < 1 || r.minutes_before > MAX_MINUTES) {
      problems.push({ field: `Reminder ${i + 1}`, message: "A reminder goes between 1 minute and 30 days before the appointment." });
    }
  });
  const offsets = s.reminder_rules.map((r) => r.minutes_before);
  if (new Set(offsets).size !== offsets.length) problems.push({ field: "Reminders", message: "Two reminders at the same time: remove one." });
  if (s.quiet_hours) {
    if (!HHMM.test(s.quiet_hours.start) || !HHMM.test(s.quiet_hours.end)) problems.push({ field: "Quiet hours", message: "Quiet hours are times like 21:00." });
    else if (s.quiet_hours.start === s.quiet_hours.end) problems.push({ field: "Quiet hours", message: "Quiet hours start and end at the same time." });
  }
  if (s.follow_up_steps.length > 5) problems.push({ field: "Follow-ups", message: "At most 5 follow-up steps." });
  s.follow_up_steps.forEach((f, i) => {
    if (!Number.isInteger(f.delay_minutes) || f.delay_minutes < 1 || f.delay_minutes > MAX_MINUTES) {
      problems.push({ field: `Follow-up ${i + 1}`, message: "A follow-up goes between 1 minute and 30 days after the last message." });
    }
  });
  for (const { key, label } of TEXTS) {
    const text = s.texts[key];
    if (text.trim() === "") problems.push({ field: label, message: "This text is empty." });
    else if ([...text].length > 1000) problems.push({ field: label, message: "At most 1000 characters." });
    const unknown = unknownVariables(text);
    if (unknown.length) problems.push({ field: label, message: `Unknown ${unknown.length === 1 ? "variable" : "variables"} ${unknown.map((u) => `{${u}}`).join(", ")}.` });
  }
  for (const { key, label } of TEMPLATE_KINDS) {
    const m = s.whatsapp_templates[key];
    if (!m) continue;
    if (!TEMPLATE_NAME.test(m.template_name)) problems.push({ field: `WhatsApp template for ${label.toLowerCase()}`, message: "Template names are lower-case letters, digits and _, exactly as approved by Meta." });
    if (m.language.trim() === "") problems.push({ field: `WhatsApp template for ${label.toLowerCase()}`, message: "Give the template's language (e.g. en_GB)." });
    if (m.variables.length > 10) problems.push({ field: `WhatsApp template for ${label.toLowerCase()}`, message: "At most 10 variables." });
  }
  return problems;
}

/** "24 h before", "2 days before", "30 min before", "1 h 30 min before". */
export function offsetLabel(minutes: number): string {
  if (minutes > 0 && minutes % 1440 === 0) return `${minutes / 1440} ${minutes === 1440 ? "day" : "days"} before`;
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return `${[h ? `${h} h` : "", m ? `${m} min` : ""].filter(Boolean).join(" ")} before`;
}

export type Unit = "minutes" | "hours" | "days";
export const UNIT_MINUTES: Record<Unit, number> = { minutes: 1, hours: 60, days: 1440 };

/** An offset as the editor shows it: the largest unit it is a whole number of. */
export function splitOffset(minutes: number): { amount: number; unit: Unit } {
  if (minutes % 1440 === 0 && minutes >= 2880) return { amount: minutes / 1440, unit: "days" };
  if (minutes % 60 === 0) return { amount: minutes / 60, unit: "hours" };
  return { amount: minutes, unit: "minutes" };
}

/** A stable name for a reminder at `minutes` before (`24h`, `2h`, `30m`), not one of `taken`. A
 * booking gets one reminder per name, so a changed offset gets a new name. */
export function ruleId(minutes: number, taken: string[]): string {
  const base = minutes % 60 === 0 ? `${minutes / 60}h` : `${minutes}m`;
  let id = base;
  for (let n = 2; taken.includes(id); n++) id = `${base}-${n}`;
  return id;
}

/** Sets reminder `index` to `minutes` before (a new name when the time changed). */
export function withOffset(rules: ReminderRule[], index: number, minutes: number): ReminderRule[] {
  return rules.map((r, i) => (i !== index || r.minutes_before === minutes ? r : { id: ruleId(minutes, rules.filter((_, j) => j !== i).map((x) => x.id)), minutes_before: minutes }));
}

/** Adds a reminder (the day before unless there is one, else an hour before). */
export function addRule(rules: ReminderRule[]): ReminderRule[] {
  const taken = new Set(rules.map((r) => r.minutes_before));
  const minutes = [1440, 120, 60, 2880, 30].find((m) => !taken.has(m)) ?? 180;
  return [...rules, { id: ruleId(minutes, rules.map((r) => r.id)), minutes_before: minutes }].sort((a, b) => b.minutes_before - a.minutes_before);
}

/** The changed settings only: what PATCH /v1/automations needs (the rest stays). */
export function changedSettings(before: AutomationSettings, after: AutomationSettings): Partial<AutomationSettings> {
  const changes: Partial<AutomationSettings> = {};
  for (const key of Object.keys(after) as (keyof AutomationSettings)[]) {
    if (JSON.stringify(before[key]) !== JSON.stringify(after[key])) (changes as Record<string, unknown>)[key] = after[key];
  }
  return changes;
}

const FIELD_LABELS: Record<string, string> = {
  ...Object.fromEntries(TEXTS.map((t) => [`texts.${t.key}`, t.label])),
  minutes_before: "Reminder time",
  text: "Text",
  code_challenge: "Sign-in",
  redirect_uri: "Sign-in",
};

/** Why the service refused, in words a front-desk person can act on. `code` is the service's
 * stable error code; `message` its sentence (which names fields like `texts.reminder`). */
export function refusal(code: string | undefined, message: string): string {
  switch (code) {
    case "validation_failed":
      return `Not saved: ${message.replace(/`([a-z_.]+)`/g, (all, name: string) => (FIELD_LABELS[name] ? `“${FIELD_LABELS[name]}”` : all)).replace(/`/g, "")}`;
    case "forbidden":
      return "Only owners and admins can change this.";
    case "not_found":
      return "That is no longer there (someone may have removed it). Reload and try again.";
    case "calendar_not_configured":
      return "Google Calendar is not set up on this Switchboard service (it needs a Google OAuth client). Ask whoever runs it.";
    case "calendar_not_connected":
      return "This person's Google Calendar is not connected.";
    case "invalid_oauth_state":
      return "That Google sign-in expired or was already used. Connect again.";
    case "google_refused":
      return `Google refused: ${message}`;
    case "google_unavailable":
      return "Google could not be reached. Try again in a moment.";
    case "task_resolved":
      return "Someone has already dealt with this task.";
    case "slot_taken":
      return "That time is taken now, so the booking cannot move there. Dismiss the task to keep the booking as it is.";
    case "version_conflict":
      return "The booking changed meanwhile. Look again and retry.";
    default:
      return message;
  }
}

export type ConfirmationState = "confirmed" | "unconfirmed" | "cancelled" | "completed" | "no_show";

/** What the calendar and customer panel say about a booking: cancelled (or done) first, else
 * whether the customer confirmed. A booking synced before confirmations existed reads as
 * unconfirmed. */
export function confirmationState(b: Pick<Booking, "status"> & { confirmation?: Booking["confirmation"] }): ConfirmationState {
  switch (b.status) {
    case "cancelled":
      return "cancelled";
    case "completed":
      return "completed";
    case "no_show":
      return "no_show";
    default:
      return b.confirmation === "confirmed" ? "confirmed" : "unconfirmed";
  }
}

export const CONFIRMATION_LABEL: Record<ConfirmationState, string> = {
  confirmed: "Confirmed",
  unconfirmed: "Unconfirmed",
  cancelled: "Cancelled",
  completed: "Completed",
  no_show: "No-show",
};

export const SOON_MS = 2 * 3_600_000;

/** Bookings starting within the next two hours that the customer has not confirmed, earliest
 * first (what GET /v1/bookings/unconfirmed answers, from the console's mirror). */
export function unconfirmedSoon(entries: CalendarEntry[], now: Date): CalendarEntry[] {
  const from = now.getTime();
  return entries
    .filter((e) => {
      const start = new Date(e.booking.start).getTime();
      return confirmationState(e.booking) === "unconfirmed" && start > from && start <= from + SOON_MS;
    })
    .sort((a, b) => byInstant(a.booking.start, b.booking.start) || a.booking.id.localeCompare(b.booking.id));
}

/** Whether staff can mark a booking confirmed for the customer (they said so on the phone or at
 * the counter): it is on the service already (not only queued here), still going ahead, not yet
 * begun (the service refuses it then) and not confirmed yet. After a refusal (the booking changed
 * meanwhile) they can try again. */
export function canMarkConfirmed(e: Pick<CalendarEntry, "booking" | "local">, now: Date): boolean {
  return (e.local === null || e.local.state === "refused") && confirmationState(e.booking) === "unconfirmed" && new Date(e.booking.start).getTime() > now.getTime();
}

/** The entry as the calendar shows it once "Mark confirmed" is queued: confirmed, pending. */
export function markedConfirmed(e: CalendarEntry, mutationId: number): CalendarEntry {
  return { ...e, booking: { ...e.booking, confirmation: "confirmed" }, local: { state: "pending", mutation_id: mutationId } };
}

/** The entries with booking `bookingId` marked confirmed and pending (the customer panel's list
 * the moment "Mark confirmed" is queued, before the console's own answer comes back). */
export function withMarkedConfirmed(entries: CalendarEntry[], bookingId: string, mutationId: number): CalendarEntry[] {
  return entries.map((e) => (e.booking.id === bookingId ? markedConfirmed(e, mutationId) : e));
}

/** What the booking's details say about a change made here and not yet on the service: waiting
 * (offline, or on its way), or refused and why. */
export function localNote(e: Pick<CalendarEntry, "local">): string | null {
  if (!e.local) return null;
  if (e.local.state === "pending") return "Waiting to send: it is applied when the service can be reached.";
  return `Not saved: ${refusal(e.local.code, e.local.reason)}`;
}

/** The entries with the service's answer in place of the booking it is about (when it is newer
 * than what they hold), so the calendar and the "Unconfirmed soon" list show a confirmation
 * before the next sync brings it. */
export function withBooking(entries: CalendarEntry[], booking: Booking): CalendarEntry[] {
  return entries.map((e) => (e.booking.id === booking.id && booking.version >= e.booking.version ? { ...e, booking } : e));
}

/** What stops a planned follow-up, in the words the conversation shows (the service's stop
 * conditions: `inbound_message`, `booking`, `opted_out`, `takeover`, `resolved`). */
export const FOLLOW_UP_STOPS = "Stops if the customer writes, books or opts out, or when someone takes over or resolves the conversation.";

const STOPPED_BECAUSE: Record<string, string> = {
  inbound_message: "the customer wrote",
  booking: "the customer booked",
  opted_out: "the customer opted out",
  takeover: "a person took the conversation over",
  resolved: "the conversation was resolved",
};

/** The rule that planned an automated message, as people say it (`reminder:24h` → "Reminder 24h"). */
export function ruleLabel(rule: string): string {
  const [kind, detail = ""] = rule.split(":", 2);
  switch (kind) {
    case "confirmation":
      return detail === "moved" ? "Confirmation: moved" : detail === "cancelled" ? "Confirmation: cancelled" : "Confirmation: booked";
    case "reminder":
      return `Reminder ${detail}`.trim();
    case "reply":
      return detail === "cancelled" ? "Answer about a cancelled booking" : "Answer to “C” (confirmed)";
    case "text_back":
      return "Missed-call text-back";
    case "follow_up":
      return `Follow-up ${detail}`.trim();
    case "no_show":
      return "No-show rebooking";
    default:
      return rule;
  }
}

export interface RunLine {
  id: string;
  /** The rule that sent or planned it. */
  rule: string;
  /** Where it stands: "Planned", "Sent", "Not sent", "Stopped", "Dropped". */
  state: string;
  status: AutomationRun["status"];
  /** When it went or is due (ISO). */
  at: string;
  /** Why it was not sent, what stopped it, or (a planned follow-up) what would stop it. */
  detail: string | null;
}

const STATE_LABEL: Record<AutomationRun["status"], string> = {
  planned: "Planned",
  sent: "Sent",
  skipped: "Not sent",
  stopped: "Stopped",
  dropped: "Dropped",
};

/** A conversation's automation history as the conversation panel lists it: oldest first, each
 * with its rule, its state and the reason or stop condition. */
export function runLines(runs: AutomationRun[]): RunLine[] {
  return [...runs]
    .sort((a, b) => byInstant(a.due_at, b.due_at) || a.id.localeCompare(b.id))
    .map((r) => {
      let detail = r.reason;
      if (r.kind === "follow_up" && r.status === "planned") detail = FOLLOW_UP_STOPS;
      if (r.kind === "follow_up" && r.status === "stopped" && r.reason) {
        detail = `Stopped because ${STOPPED_BECAUSE[r.reason] ?? r.reason}.`;
      }
      return { id: r.id, rule: ruleLabel(r.rule), state: STATE_LABEL[r.status] ?? r.status, status: r.status, at: r.due_at, detail };
    });
}
