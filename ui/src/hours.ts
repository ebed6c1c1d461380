// Opening hours as the settings screen edits them: a week of intervals. What is wrong with them
// ("Tuesday: 17:00–09:00 closes before it opens") is the service's to say, while the owner edits
// (`endpoints.schedule.checkHours`), with the same words it refuses a save with.
import type { WeeklyHours } from "./bindings/WeeklyHours";

export const DAYS: (keyof WeeklyHours)[] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];

export const dayName = (d: keyof WeeklyHours) => d[0].toUpperCase() + d.slice(1);

/** Prices are kept in cents; people type "25" or "25.50". */
export function parsePrice(text: string): number | null {
  const m = /^\s*(\d+)(?:[.,](\d{1,2}))?\s*$/.exec(text);
  if (!m) return null;
  return Number(m[1]) * 100 + Number((m[2] ?? "0").padEnd(2, "0"));
}

export function formatPrice(cents: number): string {
  return `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, "0")}`;
}
