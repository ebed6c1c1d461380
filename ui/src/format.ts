// How things read to a front-desk person: who handles a conversation, when something happened,
// how far a message got, what the connection is doing. Pure functions, tested under Vitest.
import { differenceInCalendarDays, format, isSameDay, isSameYear } from "date-fns";
import type { Booking } from "./bindings/Booking";
import type { Channel } from "./bindings/Channel";
import type { DeliveryStatus } from "./bindings/DeliveryStatus";
import type { Handler } from "./bindings/Handler";
import type { Status } from "./bindings/Status";

export function handlerLabel(handler: Handler): string {
  switch (handler.kind) {
    case "assistant":
      return "Assistant";
    case "needs_human":
      return "Needs a person";
    case "me":
      return "You";
    case "colleague":
      return handler.name;
  }
}

export function channelLabel(channel: Channel): string {
  switch (channel) {
    case "whatsapp":
    case "twilio_whatsapp":
      return "WhatsApp";
    case "sms":
      return "SMS";
    case "voice":
      return "Phone";
  }
}

/** Orders two instants from the service, earliest first. Compare them as instants, never as text:
 * the service writes milliseconds only when there are some, so `…:40Z` is earlier than `…:40.5Z`
 * though it sorts after it as a string. */
export function byInstant(a: string, b: string): number {
  return Date.parse(a) - Date.parse(b);
}

/** A time in a list: the clock today, "Yesterday", the weekday this week, else the date. */
export function listTime(iso: string, now: Date = new Date()): string {
  const at = new Date(iso);
  if (isSameDay(at, now)) return format(at, "HH:mm");
  const days = differenceInCalendarDays(now, at);
  if (days === 1) return "Yesterday";
  if (days > 1 && days < 7) return format(at, "EEEE");
  return isSameYear(at, now) ? format(at, "d MMM") : format(at, "d MMM yyyy");
}

const DELIVERY_MARKS: Record<DeliveryStatus, { mark: string; words: string }> = {
  pending: { mark: "🕓", words: "Sending" },
  sent: { mark: "✓", words: "Sent" },
  delivered: { mark: "✓✓", words: "Delivered" },
  read: { mark: "✓✓", words: "Read" },
  failed: { mark: "!", words: "Not delivered" },
  received: { mark: "", words: "" },
};

/** WhatsApp-style ticks for an outgoing message, with words for screen readers and tooltips. */
export function deliveryMark(status: DeliveryStatus): { mark: string; words: string } {
  return DELIVERY_MARKS[status];
}

/** The always-visible connection line. */
export function syncLabel(status: Status | null): { tone: "ok" | "busy" | "off"; text: string } {
  if (!status) return { tone: "busy", text: "Starting…" };
  const s = status.state;
  switch (s.state) {
    case "live":
      return { tone: "ok", text: "Online" };
    case "starting":
      return { tone: "busy", text: "Connecting…" };
    case "bootstrapping":
      return { tone: "busy", text: "Loading your inbox…" };
    case "catching_up":
      return { tone: "busy", text: "Syncing…" };
    case "offline": {
      const secs = Math.max(1, Math.round(Number(s.retry_in_ms) / 1000));
      return { tone: "off", text: `Offline — trying again in ${secs} s` };
    }
    case "signed_out":
      return { tone: "off", text: "Signed out — please sign in again" };
    case "stopped":
      return { tone: "off", text: "Stopped" };
  }
}

/** "2 waiting to send · 1 failed", or "" when the outbox is empty. */
export function outboxLabel(status: Status | null): string {
  if (!status) return "";
  const parts: string[] = [];
  const pending = Number(status.pending);
  const failed = Number(status.failed);
  if (pending) parts.push(`${pending} waiting to send`);
  if (failed) parts.push(`${failed} failed`);
  return parts.join(" · ");
}

export function initials(name: string): string {
  const words = name.trim().split(/\s+/).filter(Boolean);
  if (!words.length) return "?";
  if (/^\+?\d/.test(words[0])) return "#";
  return (words[0][0] + (words.length > 1 ? words[words.length - 1][0] : "")).toUpperCase();
}

/** How long a customer has waited, for the queue: "under a minute", "4 min", "1 h 05 min", "2 d 3 h". */
export function waitingFor(sinceIso: string, now: Date = new Date()): string {
  const minutes = Math.max(0, Math.floor((now.getTime() - Date.parse(sinceIso)) / 60_000));
  if (minutes < 1) return "under a minute";
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours} h ${String(minutes % 60).padStart(2, "0")} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

/** The colour of a waiting time against the business's target: `ok` under half of it, `near`
 * until it is reached, `late` after. */
export function waitTone(sinceIso: string, targetMinutes: number, now: Date = new Date()): "ok" | "near" | "late" {
  const waited = (now.getTime() - Date.parse(sinceIso)) / 60_000;
  const target = Math.max(1, targetMinutes);
  if (waited >= target) return "late";
  return waited >= target / 2 ? "near" : "ok";
}

/** A booking as a line of a customer's history: "Booked Cut with Sam for Fri 5 Dec, 15:00 (cancelled)". */
export function bookingLine(b: Booking, service: string | null, staff: string | null): string {
  const by = b.source === "assistant" || b.source === "voice" ? "The assistant booked" : "Booked";
  const state = b.status === "confirmed" ? (b.confirmation === "confirmed" ? " (the customer confirmed)" : "") : ` (${b.status.replace("_", " ")})`;
  return `${by} ${service ?? "an appointment"}${staff ? ` with ${staff}` : ""} for ${format(new Date(b.start), "EEE d MMM, HH:mm")}${state}`;
}
