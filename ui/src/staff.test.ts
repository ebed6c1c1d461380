import { describe, expect, it } from "vitest";
import type { CalendarEntry } from "./bindings/CalendarEntry";
import { deactivatedNote, upcomingFor } from "./staff";

const entry = (staff_id: string, start: string, status: string): CalendarEntry => ({ booking: { staff_id, start, status } } as unknown as CalendarEntry);

describe("deactivating a colleague", () => {
  const now = new Date("2026-12-05T12:00:00Z");
  it("counts only the bookings still ahead of them", () => {
    const entries = [
      entry("maya", "2026-12-06T09:00:00Z", "confirmed"),
      entry("maya", "2026-12-07T09:00:00Z", "pending"),
      entry("maya", "2026-12-08T09:00:00Z", "cancelled"),
      entry("maya", "2026-12-04T09:00:00Z", "confirmed"),
      entry("sam", "2026-12-06T09:00:00Z", "confirmed"),
    ];
    expect(upcomingFor(entries, "maya", now)).toBe(2);
    expect(upcomingFor(entries, "nobody", now)).toBe(0);
  });
  it("says what is left to move", () => {
    expect(deactivatedNote("Maya", 0)).toBe("Maya can no longer sign in.");
    expect(deactivatedNote("Maya", 1)).toBe("Maya can no longer sign in. One upcoming booking is still theirs: move it to someone else in the Calendar.");
    expect(deactivatedNote("Maya", 3)).toContain("3 upcoming bookings are still theirs: move them");
  });
});
