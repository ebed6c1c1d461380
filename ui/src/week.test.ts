import { describe, expect, it } from "vitest";
import type { CalendarEntry } from "./bindings/CalendarEntry";
import type { Staff } from "./bindings/Staff";
import { layout, stepPerson, weekPerson } from "./week";

const team = (n: number): Staff[] =>
  Array.from({ length: n }, (_, i) => ({ id: `s${i + 1}`, business_id: "b", name: `Person ${i + 1}`, email: "", role: "agent", active: true, created_at: "", updated_at: "" }) as Staff);
// Only the booking's person matters to the week view.
const bookingOf = (staff: string) => ({ booking: { staff_id: staff } }) as unknown as CalendarEntry;

describe("the week view: one person's week at a time", () => {
  it("has seven day-columns whatever the number of staff, and the day view one per person", () => {
    for (let n = 1; n <= 10; n++) {
      const staff = team(n);
      const week = layout("week", staff, weekPerson(staff, null, null));
      expect(week.columns).toBe(7);
      expect(week.resources).toBeUndefined();
      expect(layout("day", staff, null).columns).toBe(n);
      expect(layout("day", staff, null).resources?.map((r) => r.title)).toEqual(staff.map((s) => s.name));
    }
  });

  it("shows only the chosen person's bookings in the week, everyone's in the day", () => {
    const staff = team(3);
    const entries = [bookingOf("s1"), bookingOf("s2"), bookingOf("s2"), bookingOf("s3")];
    expect(entries.filter(layout("week", staff, "s2").shows)).toHaveLength(2);
    expect(entries.filter(layout("week", staff, "s9").shows)).toHaveLength(0);
    expect(entries.filter(layout("day", staff, "s2").shows)).toHaveLength(4);
  });

  it("starts on the signed-in person's week, keeps a pick while that person is on the staff", () => {
    const staff = team(4);
    expect(weekPerson(staff, null, "s3")).toBe("s3");
    expect(weekPerson(staff, null, "not-staff")).toBe("s1");
    expect(weekPerson(staff, "s2", "s3")).toBe("s2");
    // The picked person was deactivated: back to the signed-in person.
    expect(weekPerson(staff, "gone", "s3")).toBe("s3");
    expect(weekPerson([], null, "s3")).toBeNull();
  });

  it("steps through people with ‹ ›, going round", () => {
    const staff = team(3);
    expect(stepPerson(staff, "s1", 1)).toBe("s2");
    expect(stepPerson(staff, "s3", 1)).toBe("s1");
    expect(stepPerson(staff, "s1", -1)).toBe("s3");
    expect(stepPerson(team(1), "s1", 1)).toBe("s1");
    expect(stepPerson([], null, 1)).toBeNull();
  });
});
