// Google Calendar as Settings and the calendar show it: a connection in plain words, which
// calendars block the person, and the tasks an outside change in Google leaves for the front
// desk. Pure functions, tested under Vitest.
import { byInstant } from "./format";
import type { CalendarConnection } from "./bindings/CalendarConnection";
import type { CalendarTask } from "./bindings/CalendarTask";

/** "just now", "5 min ago", "3 h ago", "2 days ago". */
export function ago(iso: string, now: Date): string {
  const minutes = Math.floor((now.getTime() - new Date(iso).getTime()) / 60_000);
  if (minutes < 1) return "just now";
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ago`;
  return `${Math.floor(hours / 24)} days ago`;
}

export interface Summary {
  tone: "ok" | "warn" | "off";
  /** The headline: "Connected", "Reconnect needed", "Not connected". */
  status: string;
  /** The details: the account, the last successful sync, what went wrong. */
  detail: string;
}

/** A person's Google Calendar connection in plain words (`null`: not connected). */
export function connectionSummary(c: CalendarConnection | null, now: Date): Summary {
  if (!c) return { tone: "off", status: "Not connected", detail: "Bookings are not written to Google, and Google does not block times." };
  const account = c.account_email ? `${c.account_email} · ` : "";
  const synced = c.last_sync_at ? `last synced ${ago(c.last_sync_at, now)}` : "not synced yet";
  if (c.status === "reconnect_needed") {
    return { tone: "warn", status: "Reconnect needed", detail: `${account}${c.error ?? "Google no longer accepts the sign-in."} Until then the assistant follows this person's working hours only (${synced}).` };
  }
  const failing = c.calendars.filter((k) => k.selected && k.error);
  if (c.error || failing.length) {
    const why = c.error ?? failing.map((k) => `${k.summary}: ${k.error}`).join("; ");
    return { tone: "warn", status: "Connected, with a problem", detail: `${account}${why} (${synced})` };
  }
  return { tone: "ok", status: "Connected", detail: `${account}${synced}` };
}

/** The calendars chosen to block the person (what PUT …/calendars takes). */
export function chosen(c: CalendarConnection): string[] {
  return c.calendars.filter((k) => k.selected).map((k) => k.calendar_id);
}

/** Turns one calendar on or off in a choice, keeping the connection's order. */
export function toggle(c: CalendarConnection, ids: string[], id: string): string[] {
  const set = new Set(ids);
  if (set.has(id)) set.delete(id);
  else set.add(id);
  return c.calendars.map((k) => k.calendar_id).filter((k) => set.has(k));
}

/** Tasks still waiting, oldest first. */
export function openTasks(tasks: CalendarTask[]): CalendarTask[] {
  return tasks.filter((t) => t.status === "open").sort((a, b) => byInstant(a.created_at, b.created_at) || a.id.localeCompare(b.id));
}

/** What applying and dismissing a task do, as its buttons say. */
export function taskActions(t: CalendarTask): { apply: string; dismiss: string } {
  return t.kind === "moved"
    ? { apply: "Move the booking", dismiss: "Keep our time (put it back in Google)" }
    : { apply: "Cancel the booking", dismiss: "Keep the booking (put it back in Google)" };
}
