// The Reports screen's logic, apart from drawing it: which tiles show what, how a figure compares
// with the previous period, the date ranges (the business's local days) and filters as the
// console's `report` command takes them, and how fresh the figures on screen are. Pure
// functions, tested under Vitest.
import type { ReportAnswer } from "./bindings/ReportAnswer";
import type { ReportCallRow } from "./bindings/ReportCallRow";
import type { ReportDay } from "./bindings/ReportDay";
import type { ReportExport } from "./bindings/ReportExport";
import type { ReportFigure } from "./bindings/ReportFigure";
import type { ReportFigures } from "./bindings/ReportFigures";
import type { ReportFilter } from "./bindings/ReportFilter";
import type { ReportRows } from "./bindings/ReportRows";

export type Format = "count" | "money" | "pct" | "duration";

/** A headline tile: a figure of the period, how to show it, which way is better, and the
 * figure whose rows a click lists. */
export interface Tile {
  key: string;
  label: string;
  figure: ReportFigure;
  format: Format;
  /** Which way is an improvement (`null`: neither, e.g. how many were taken over). */
  better: "up" | "down" | null;
  value: (f: ReportFigures) => number | null;
  /** A second line under the value (a share, a count behind a time). */
  note?: (f: ReportFigures) => string | null;
}

const share = (pct: number | null) => (pct === null ? null : `${pct.toFixed(1)}% of conversations`);

export const TILES: Tile[] = [
  { key: "conversations", label: "Conversations", figure: "conversations", format: "count", better: null, value: (f) => f.conversations },
  { key: "handled_by_assistant", label: "Handled by the assistant", figure: "handled_by_assistant", format: "count", better: "up", value: (f) => f.handled_by_assistant, note: (f) => share(f.handled_by_assistant_pct) },
  { key: "handed_over", label: "Handed to a person", figure: "handed_over", format: "count", better: null, value: (f) => f.handed_over, note: (f) => share(f.handed_over_pct) },
  { key: "taken_over", label: "Taken over", figure: "taken_over", format: "count", better: null, value: (f) => f.taken_over, note: (f) => share(f.taken_over_pct) },
  { key: "wait_for_person", label: "Wait for a person (median)", figure: "wait_for_person", format: "duration", better: "down", value: (f) => f.wait_for_person_p50_secs, note: (f) => (f.wait_for_person_p90_secs === null ? null : `90% within ${formatDuration(f.wait_for_person_p90_secs)}`) },
  { key: "first_response", label: "First reply by a person (median)", figure: "first_response", format: "duration", better: "down", value: (f) => f.first_response_p50_secs, note: (f) => (f.first_response_business_p50_secs === null ? null : `${formatDuration(f.first_response_business_p50_secs)} in opening hours`) },
  { key: "bookings", label: "Bookings", figure: "bookings", format: "count", better: "up", value: (f) => f.bookings },
  { key: "booked_value", label: "Booked value", figure: "bookings", format: "money", better: "up", value: (f) => f.booked_value_cents },
  { key: "cancellation", label: "Cancellation rate", figure: "cancelled", format: "pct", better: "down", value: (f) => f.cancellation_pct, note: (f) => `${f.cancelled} cancelled` },
  { key: "no_shows", label: "No-show rate", figure: "no_shows", format: "pct", better: "down", value: (f) => f.no_show_pct, note: (f) => `${f.no_shows} of ${f.attended} appointments` },
  // Definitions version 2: what the reminders and the missed-call text-backs achieved.
  { key: "reminder_confirmation", label: "Confirmed by reminder", figure: "reminder_confirmed", format: "pct", better: "up", value: (f) => f.reminder_confirmed_pct, note: (f) => `${f.reminder_confirmed} of ${f.reminded} reminded bookings` },
  { key: "reminder_cancellation", label: "Cancelled by reminder", figure: "reminder_cancelled", format: "pct", better: null, value: (f) => f.reminder_cancelled_pct, note: (f) => `${f.reminder_cancelled} of ${f.reminded} reminded bookings` },
  { key: "missed_calls", label: "Missed calls", figure: "missed_calls", format: "count", better: "down", value: (f) => f.missed_calls, note: (f) => `${f.text_backs} text-backs sent` },
  { key: "text_backs", label: "Text-backs sent", figure: "text_backs", format: "count", better: null, value: (f) => f.text_backs, note: (f) => `after ${f.missed_calls} missed ${f.missed_calls === 1 ? "call" : "calls"}` },
  { key: "recovered", label: "Missed calls recovered", figure: "recovered", format: "count", better: "up", value: (f) => f.recovered, note: (f) => recoveredNote(f) },
];

const CALL_FIGURES: ReportFigure[] = ["missed_calls", "text_backs", "recovered"];
const BOOKING_FIGURES: ReportFigure[] = ["bookings", "cancelled", "attended", "no_shows", "reminded", "reminder_confirmed", "reminder_cancelled"];

/** Which CSV holds a figure's rows: its calls, its bookings or its conversations. */
export function exportFor(figure: ReportFigure): ReportExport {
  if (CALL_FIGURES.includes(figure)) return "calls";
  if (BOOKING_FIGURES.includes(figure)) return "bookings";
  return "conversations";
}

/** The calls behind a figure (none from a service that lists no calls). */
export function callsOf(rows: ReportRows): ReportCallRow[] {
  return rows.calls ?? [];
}

/** How many rows a listing has, whichever kind they are. */
export function rowCount(rows: ReportRows): number {
  return rows.conversations.length + rows.bookings.length + callsOf(rows).length;
}

/** Who called: their name, else their number. */
export function caller(row: ReportCallRow): string {
  return row.customer_name || row.customer_phone || "Unknown caller";
}

/** What came of a call: "Booked 12 May" (the booking that recovered it), or "Not yet". */
export function recoveredLabel(row: ReportCallRow, timeZone: string): string {
  if (!row.booked_at) return "Not yet";
  return `Booked ${new Date(row.booked_at).toLocaleDateString("en-GB", { day: "numeric", month: "short", timeZone })}`;
}

/** Under the recovered count: its share of the missed calls (booked within 7 days). */
export function recoveredNote(f: ReportFigures): string | null {
  return f.recovered_pct === null ? null : `${f.recovered_pct.toFixed(1)}% booked within 7 days`;
}

export interface Delta {
  /** "+25%", "−3.0 pts", "new", "no change"; "" when there is nothing to compare. */
  text: string;
  direction: "up" | "down" | "flat" | null;
  /** Good or bad news, as the tile defines better; neutral where neither. */
  tone: "good" | "bad" | "neutral";
}

/** How `current` compares with `previous`: counts, money and times as a relative change, rates
 * (already percentages) as a difference in percentage points. */
export function delta(current: number | null, previous: number | null, format: Format, better: Tile["better"]): Delta {
  if (current === null || previous === null) return { text: "", direction: null, tone: "neutral" };
  const direction = current > previous ? "up" : current < previous ? "down" : "flat";
  const tone = direction === "flat" || better === null ? "neutral" : direction === better ? "good" : "bad";
  if (direction === "flat") return { text: "no change", direction, tone };
  const sign = direction === "up" ? "+" : "−";
  if (format === "pct") return { text: `${sign}${Math.abs(current - previous).toFixed(1)} pts`, direction, tone };
  if (previous === 0) return { text: "new", direction, tone };
  const change = Math.round((Math.abs(current - previous) / Math.abs(previous)) * 100);
  return { text: `${sign}${change}%`, direction, tone };
}

export function formatDuration(secs: number): string {
  if (secs < 60) return `${secs} s`;
  const minutes = Math.round(secs / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return minutes % 60 ? `${hours} h ${minutes % 60} min` : `${hours} h`;
  const days = Math.floor(hours / 24);
  return hours % 24 ? `${days} d ${hours % 24} h` : `${days} d`;
}

export function formatMoney(cents: number, currency: string): string {
  try {
    return new Intl.NumberFormat("en-GB", { style: "currency", currency }).format(cents / 100);
  } catch {
    return `${(cents / 100).toFixed(2)} ${currency}`;
  }
}

export function formatValue(value: number | null, format: Format, currency: string): string {
  if (value === null) return "—";
  switch (format) {
    case "count":
      return value.toLocaleString("en-GB");
    case "money":
      return formatMoney(value, currency);
    case "pct":
      return `${value.toFixed(1)}%`;
    case "duration":
      return formatDuration(value);
  }
}

// Dates: local days as `YYYY-MM-DD`, computed on UTC midnights so that no zone of this
// computer shifts them.
const day = (date: string) => new Date(`${date}T00:00:00Z`);
const iso = (d: Date) => d.toISOString().slice(0, 10);

export function addDays(date: string, days: number): string {
  const d = day(date);
  d.setUTCDate(d.getUTCDate() + days);
  return iso(d);
}

/** Today in the business's time zone (not this computer's). */
export function todayIn(timeZone: string, now: Date = new Date()): string {
  try {
    // Built from the parts: a locale's written order is not a format to rely on (en-CA gave
    // YYYY-MM-DD in Chromium but M/D/YYYY in the desktop window's WebKitGTK, and Reports broke).
    const parts = new Intl.DateTimeFormat("en-US", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).formatToParts(now);
    const part = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)?.value ?? "";
    const date = `${part("year")}-${part("month")}-${part("day")}`;
    if (/^\d{4}-\d{2}-\d{2}$/.test(date)) return date;
    return iso(now);
  } catch {
    return iso(now);
  }
}

export const PRESETS = ["Last 7 days", "Last 30 days", "Last 90 days", "This month", "Last month"] as const;
export type Preset = (typeof PRESETS)[number];

/** The local days a preset covers, ending today (inclusive). */
export function presetRange(preset: Preset, today: string): { from: string; to: string } {
  switch (preset) {
    case "Last 7 days":
      return { from: addDays(today, -6), to: today };
    case "Last 30 days":
      return { from: addDays(today, -29), to: today };
    case "Last 90 days":
      return { from: addDays(today, -89), to: today };
    case "This month":
      return { from: `${today.slice(0, 8)}01`, to: today };
    case "Last month": {
      const first = `${today.slice(0, 8)}01`;
      const to = addDays(first, -1);
      return { from: `${to.slice(0, 8)}01`, to };
    }
  }
}

/** What the service accepts (at most 400 days, not backwards), said before asking it. */
export function rangeProblem(from: string, to: string): string | null {
  const valid = (d: string) => /^\d{4}-\d{2}-\d{2}$/.test(d) && !Number.isNaN(day(d).getTime()) && iso(day(d)) === d;
  if (!valid(from) || !valid(to)) return "Pick both dates.";
  if (from > to) return "The range ends before it starts.";
  if (daysIn(from, to) > 400) return "Reports cover at most 400 days at a time.";
  return null;
}

export function daysIn(from: string, to: string): number {
  return Math.round((day(to).getTime() - day(from).getTime()) / 86_400_000) + 1;
}

/** The screen's filters as the console's `report` command takes them ("" in a picker: all). */
export function filterFor(range: { from: string; to: string }, channel: string, staffId: string): ReportFilter {
  return { from: range.from, to: range.to, channel: channel || null, staff_id: staffId || null };
}

/** One day's rows: the same filter narrowed to a day of the chart. */
export function dayFilter(filter: ReportFilter, date: string): ReportFilter {
  return { ...filter, from: date, to: date };
}

export function sameFilter(a: ReportFilter, b: ReportFilter): boolean {
  return a.from === b.from && a.to === b.to && (a.channel ?? null) === (b.channel ?? null) && (a.staff_id ?? null) === (b.staff_id ?? null);
}

/** "3 Nov – 2 Dec 2026" (one date when the range is one day). */
export function rangeLabel(from: string, to: string): string {
  const f = (d: string, year: boolean) => day(d).toLocaleDateString("en-GB", { day: "numeric", month: "short", year: year ? "numeric" : undefined, timeZone: "UTC" });
  if (from === to) return f(from, true);
  return `${f(from, from.slice(0, 4) !== to.slice(0, 4))} – ${f(to, true)}`;
}

/** What the screen says about the figures it shows: nothing when they are fresh; when offline,
 * that they are the last ones fetched, when, and for which filter if not the one asked for. */
export function freshness(answer: ReportAnswer, asked: ReportFilter, now: Date = new Date()): string | null {
  if (!answer.offline) return null;
  const at = new Date(answer.fetched_at);
  const sameDay = at.toDateString() === now.toDateString();
  const when = sameDay
    ? at.toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit" })
    : at.toLocaleString("en-GB", { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
  const other = sameFilter(answer.filter, asked) ? "" : ` for ${rangeLabel(answer.filter.from, answer.filter.to)}${answer.filter.channel || answer.filter.staff_id ? " (filtered)" : ""}`;
  return `Offline — showing the figures loaded at ${when}${other}. They update when the connection is back.`;
}

/** The messages for a failed load: offline with no figures kept says the screen needs the
 * network; anything else is the console's own sentence. */
export function loadProblem(kind: string, message: string): string {
  if (kind === "offline" || kind === "service") return "Reports need the network: the service cannot be reached, and no figures were loaded on this computer before.";
  return message;
}

/** The daily series a chart draws: x is the day's index (labelled with its date), so days stay
 * the business's local days whatever this computer's zone. */
export function series(days: ReportDay[], pick: (d: ReportDay) => number): [number[], number[]] {
  return [days.map((_, i) => i), days.map(pick)];
}

/** A short label for a day on a chart's axis: "3 Nov". */
export function dayLabel(date: string): string {
  return day(date).toLocaleDateString("en-GB", { day: "numeric", month: "short", timeZone: "UTC" });
}
