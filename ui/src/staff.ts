// What the Staff settings say when someone is deactivated: they can no longer sign in, and the
// bookings still ahead of them stay theirs until someone moves them (the service refuses a move
// that keeps them, `staff_inactive`), so the owner is told how many.
import type { CalendarEntry } from "./bindings/CalendarEntry";

/** Bookings still ahead of `staffId` (pending or confirmed, starting after `now`). */
export function upcomingFor(entries: CalendarEntry[], staffId: string, now: Date): number {
  return entries.filter((e) => e.booking.staff_id === staffId && (e.booking.status === "pending" || e.booking.status === "confirmed") && Date.parse(e.booking.start) > now.getTime()).length;
}

/** The note after deactivating `name`, who had `upcoming` bookings ahead. */
export function deactivatedNote(name: string, upcoming: number): string {
  const signIn = `${name} can no longer sign in.`;
  if (upcoming === 0) return signIn;
  const what = upcoming === 1 ? "One upcoming booking is still theirs: move it" : `${upcoming} upcoming bookings are still theirs: move them`;
  return `${signIn} ${what} to someone else in the Calendar.`;
}
