import { describe, expect, it } from "vitest";
import type { CalendarConnection } from "./bindings/CalendarConnection";
import type { CalendarTask } from "./bindings/CalendarTask";
import { dirtyFrom } from "./changes";
import { ago, chosen, connectionSummary, openTasks, taskActions, toggle } from "./google";

const now = new Date("2026-12-04T12:00:00Z");
const calendar = (id: string, selected: boolean, error: string | null = null) => ({ calendar_id: id, summary: id === "primary@x" ? "Sam" : id, primary: id === "primary@x", selected, last_sync_at: null, error, push: true });
const connection = (over: Partial<CalendarConnection> = {}): CalendarConnection => ({
  staff_id: "s1",
  status: "connected",
  account_email: "sam@example.com",
  calendars: [calendar("primary@x", true), calendar("family", false), calendar("gym", true)],
  last_sync_at: "2026-12-04T11:55:00Z",
  error: null,
  ...over,
});
const task = (id: string, created_at: string, over: Partial<CalendarTask> = {}): CalendarTask => ({
  id, staff_id: "s1", booking_id: "b1", kind: "moved", new_start: null, new_end: null,
  message: "Sam moved Ada's 10:00 to 11:30 in Google Calendar — apply?", status: "open", created_at, resolved_at: null, ...over,
});

describe("Google Calendar in Settings", () => {
  it("says how long ago something happened", () => {
    expect(ago("2026-12-04T11:59:30Z", now)).toBe("just now");
    expect(ago("2026-12-04T11:55:00Z", now)).toBe("5 min ago");
    expect(ago("2026-12-04T09:00:00Z", now)).toBe("3 h ago");
    expect(ago("2026-11-30T12:00:00Z", now)).toBe("4 days ago");
  });

  it("sums a connection up in plain words", () => {
    expect(connectionSummary(null, now)).toMatchObject({ tone: "off", status: "Not connected" });
    expect(connectionSummary(connection(), now)).toEqual({ tone: "ok", status: "Connected", detail: "sam@example.com · last synced 5 min ago" });
    const revoked = connectionSummary(connection({ status: "reconnect_needed", error: "Google no longer accepts this sign-in (it was revoked)." }), now);
    expect(revoked.tone).toBe("warn");
    expect(revoked.status).toBe("Reconnect needed");
    expect(revoked.detail).toContain("it was revoked");
    expect(revoked.detail).toContain("working hours only");
    const failing = connectionSummary(connection({ calendars: [calendar("gym", true, "Google answered 403"), calendar("family", false, "ignored")] }), now);
    expect(failing).toMatchObject({ tone: "warn", status: "Connected, with a problem" });
    expect(failing.detail).toContain("gym: Google answered 403");
    expect(failing.detail).not.toContain("ignored");
    expect(connectionSummary(connection({ last_sync_at: null }), now).detail).toContain("not synced yet");
  });

  it("chooses calendars in the connection's order", () => {
    const c = connection();
    expect(chosen(c)).toEqual(["primary@x", "gym"]);
    expect(toggle(c, chosen(c), "family")).toEqual(["primary@x", "family", "gym"]);
    expect(toggle(c, chosen(c), "primary@x")).toEqual(["gym"]);
  });

  it("lists open tasks oldest first, with what each button does", () => {
    const tasks = [task("b", "2026-12-04T10:00:00Z"), task("a", "2026-12-04T09:00:00Z"), task("c", "2026-12-04T08:00:00Z", { status: "applied" })];
    expect(openTasks(tasks).map((t) => t.id)).toEqual(["a", "b"]);
    // The service writes milliseconds only when there are some: within one second, as instants.
    const sameSecond = [task("later", "2026-12-04T10:00:00.5Z"), task("z-first", "2026-12-04T10:00:00Z"), task("middle", "2026-12-04T10:00:00.05Z")];
    expect(openTasks(sameSecond).map((t) => t.id)).toEqual(["z-first", "middle", "later"]);
    expect(taskActions(task("x", "", { kind: "moved" })).apply).toBe("Move the booking");
    expect(taskActions(task("x", "", { kind: "deleted" })).apply).toBe("Cancel the booking");
    expect(taskActions(task("x", "", { kind: "deleted" })).dismiss).toMatch(/put it back in Google/);
  });

  it("reloads the tasks when one syncs, and only then", () => {
    const open = { conversationId: null, customerId: null };
    expect(dirtyFrom([{ type: "changed", entities: [["calendar_task", "t1"]], resync: false }], open).tasks).toBe(true);
    expect(dirtyFrom([{ type: "changed", entities: [["calendar_connection", "s1"]], resync: false }], open).tasks).toBe(true);
    expect(dirtyFrom([{ type: "changed", entities: [["booking", "b1"]], resync: false }], open).tasks).toBe(false);
    expect(dirtyFrom([{ type: "changed", entities: [], resync: true }], open).tasks).toBe(true);
  });
});
