// How things read to a front-desk person: who handles a conversation, when something happened,
// how far a message got, what the connection is doing. Pure functions, tested under Vitest.
import { differenceInCalendarDays, format, isSameDay, isSameYear } from "date-fns";
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

/** A time in a list: the clock today, "Yesterday", the weekday this week, else the date. */
export function listTime(iso: string, now: Date = new Date()): string {
  const at = new Date(iso);
  if (isSameDay(at, now)) return format(at, "HH:mm");
  const days = differenceInCalendarDays(now, at);
  if (days === 1) return "Yesterday";
  if (days > 1 && days < 7) return format(at, "EEEE");
  return isSameYear(at, now) ? format(at, "d MMM") : format(at, "d MMM yyyy");
}

/** WhatsApp-style ticks for an outgoing message, with words for screen readers and tooltips. */
export function deliveryMark(status: DeliveryStatus): { mark: string; words: string } {
  switch (status) {
    case "pending":
      return { mark: "🕓", words: "Sending" };
    case "sent":
      return { mark: "✓", words: "Sent" };
    case "delivered":
      return { mark: "✓✓", words: "Delivered" };
    case "read":
      return { mark: "✓✓", words: "Read" };
    case "failed":
      return { mark: "!", words: "Not delivered" };
    case "received":
      return { mark: "", words: "" };
  }
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
