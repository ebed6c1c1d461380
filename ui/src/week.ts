// The calendar's week view shows one person's week at a time (seven day-columns, whatever the
// number of staff), with the person picked above it and stepped through with ‹ ›. The day view
// keeps everyone side by side (one column each).
//
// Why not a column per person per day: with two staff that is 14 columns, with ten 70, and the
// calendar cut them off. Why not a compact grid (staff rows × day cells with counts): the front
// desk would lose what the week view is for — seeing when in the day a person is free, and
// dragging a booking to another time — and the cells stop being readable once a person has more
// than a handful of bookings a day. One person's week keeps times, free gaps and drag-and-drop,
// and is exactly as readable with 1 staff member as with 10.
import type { CalendarEntry } from "./bindings/CalendarEntry";
import type { Staff } from "./bindings/Staff";

export type CalendarMode = "day" | "week";

/** The person whose week is shown: the one picked if still on the staff, else the signed-in
 * person, else the first. Null only when there is no staff at all. */
export function weekPerson(staff: Staff[], picked: string | null, me: string | null): string | null {
  if (picked && staff.some((s) => s.id === picked)) return picked;
  if (me && staff.some((s) => s.id === me)) return me;
  return staff[0]?.id ?? null;
}

/** The next (`+1`) or previous (`-1`) person's week, going round. */
export function stepPerson(staff: Staff[], current: string | null, by: 1 | -1): string | null {
  if (staff.length === 0) return null;
  const i = staff.findIndex((s) => s.id === current);
  return staff[(((i < 0 ? 0 : i + by) % staff.length) + staff.length) % staff.length].id;
}

/** What the calendar draws: the day view has a column per person; the week view has no person
 * columns (seven days) and only the chosen person's bookings. */
export function layout(mode: CalendarMode, staff: Staff[], person: string | null): { resources: { id: string; title: string }[] | undefined; shows: (e: CalendarEntry) => boolean; columns: number } {
  if (mode === "day") return { resources: staff.map((s) => ({ id: s.id, title: s.name })), shows: () => true, columns: Math.max(staff.length, 1) };
  return { resources: undefined, shows: (e) => e.booking.staff_id === person, columns: 7 };
}
