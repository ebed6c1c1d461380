// Opening hours as the settings screen edits them: a week of intervals, checked before saving so
// the owner sees "Tuesday: closes before it opens" rather than a rejected request.
import type { HoursInterval } from "./bindings/HoursInterval";
import type { WeeklyHours } from "./bindings/WeeklyHours";

export const DAYS: (keyof WeeklyHours)[] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];

export const dayName = (d: keyof WeeklyHours) => d[0].toUpperCase() + d.slice(1);

const TIME = /^([01]\d|2[0-3]):[0-5]\d$/;

/** What is wrong with one day's intervals, in words; empty when it can be saved. */
export function dayProblems(day: keyof WeeklyHours, intervals: HoursInterval[]): string[] {
  const problems: string[] = [];
  const sorted = [...intervals].sort((a, b) => a.start.localeCompare(b.start));
  sorted.forEach((i, n) => {
    if (!TIME.test(i.start) || !TIME.test(i.end)) problems.push(`${dayName(day)}: times are HH:MM`);
    else if (i.end <= i.start) problems.push(`${dayName(day)}: ${i.start}–${i.end} closes before it opens`);
    if (n > 0 && sorted[n - 1].end > i.start) problems.push(`${dayName(day)}: ${sorted[n - 1].start}–${sorted[n - 1].end} overlaps ${i.start}–${i.end}`);
  });
  return problems;
}

export function weekProblems(week: WeeklyHours): string[] {
  return DAYS.flatMap((d) => dayProblems(d, week[d]));
}

/** Prices are kept in cents; people type "25" or "25.50". */
export function parsePrice(text: string): number | null {
  const m = /^\s*(\d+)(?:[.,](\d{1,2}))?\s*$/.exec(text);
  if (!m) return null;
  return Number(m[1]) * 100 + Number((m[2] ?? "0").padEnd(2, "0"));
}

export function formatPrice(cents: number): string {
  return `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, "0")}`;
}
