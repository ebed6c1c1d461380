import { describe, expect, it } from "vitest";
import type { ReportAnswer } from "./bindings/ReportAnswer";
import type { ReportFigures } from "./bindings/ReportFigures";
import type { ReportCallRow } from "./bindings/ReportCallRow";
import type { ReportRows } from "./bindings/ReportRows";
import { TILES, addDays, caller, callsOf, dayFilter, daysIn, delta, exportFor, filterFor, formatDuration, formatValue, freshness, loadProblem, presetRange, rangeLabel, rangeProblem, recoveredLabel, rowCount, series, todayIn } from "./reports";

const figures = (over: Partial<ReportFigures> = {}): ReportFigures => ({
  from: "2026-11-01", to: "2026-11-30", conversations: 40, handled_by_assistant: 30, handed_over: 6, taken_over: 4,
  handled_by_assistant_pct: 75, handed_over_pct: 15, taken_over_pct: 10, reopened: 2, ai_replies: 80, human_replies: 20,
  wait_for_person_count: 6, wait_for_person_p50_secs: 300, wait_for_person_p90_secs: 1200, first_response_count: 10,
  first_response_p50_secs: 240, first_response_p90_secs: 900, first_response_business_p50_secs: 120, first_response_business_p90_secs: 600,
  bookings: 12, booked_value_cents: 54000, cancelled: 3, cancellation_pct: 25, attended: 10, no_shows: 1, no_show_pct: 10,
  reminded: 8, reminder_confirmed: 6, reminder_confirmed_pct: 75, reminder_cancelled: 1, reminder_cancelled_pct: 12.5,
  missed_calls: 5, text_backs: 4, recovered: 2, recovered_pct: 40, ...over,
});

const tile = (key: string) => TILES.find((t) => t.key === key)!;

describe("tiles compare with the previous period", () => {
  it("says how much a count changed, and whether that is good news", () => {
    expect(delta(15, 12, "count", "up")).toEqual({ text: "+25%", direction: "up", tone: "good" });
    expect(delta(9, 12, "count", "up")).toEqual({ text: "−25%", direction: "down", tone: "bad" });
    expect(delta(12, 12, "count", "up")).toEqual({ text: "no change", direction: "flat", tone: "neutral" });
    // Something from nothing has no percentage.
    expect(delta(3, 0, "count", "up")).toEqual({ text: "new", direction: "up", tone: "good" });
    expect(delta(0, 0, "count", "up").text).toBe("no change");
    // Neither way is better: no colour.
    expect(delta(5, 4, "count", null).tone).toBe("neutral");
  });

  it("compares rates in percentage points, and a lower wait is good news", () => {
    expect(delta(12.5, 10, "pct", "down")).toEqual({ text: "+2.5 pts", direction: "up", tone: "bad" });
    expect(delta(7.5, 10, "pct", "down")).toEqual({ text: "−2.5 pts", direction: "down", tone: "good" });
    expect(delta(120, 240, "duration", "down")).toEqual({ text: "−50%", direction: "down", tone: "good" });
  });

  it("has nothing to compare when either period has no value", () => {
    expect(delta(null, 10, "pct", "down")).toEqual({ text: "", direction: null, tone: "neutral" });
    expect(delta(10, null, "duration", "down").text).toBe("");
  });

  it("reads each tile's figure from the period and links it to the figure's rows", () => {
    const f = figures();
    expect(tile("bookings").value(f)).toBe(12);
    expect(tile("bookings").figure).toBe("bookings");
    expect(tile("booked_value").value(f)).toBe(54000);
    expect(tile("handled_by_assistant").note!(f)).toBe("75.0% of conversations");
    expect(tile("no_shows").figure).toBe("no_shows");
    expect(tile("no_shows").note!(f)).toBe("1 of 10 appointments");
    expect(tile("wait_for_person").value(figures({ wait_for_person_p50_secs: null }))).toBeNull();
    // Every tile clicks through to a figure the service can list.
    const figuresWithRows = ["conversations", "handled_by_assistant", "handed_over", "taken_over", "reopened", "wait_for_person", "first_response", "bookings", "cancelled", "attended", "no_shows", "reminded", "reminder_confirmed", "reminder_cancelled", "missed_calls", "text_backs", "recovered"];
    for (const t of TILES) expect(figuresWithRows).toContain(t.figure);
    // The call tiles list their calls.
    expect(["missed_calls", "text_backs", "recovered"].map((k) => tile(k).figure)).toEqual(["missed_calls", "text_backs", "recovered"]);
  });

  it("shows the reminder and missed-call figures with the change against the previous period", () => {
    const f = figures();
    expect(tile("reminder_confirmation").value(f)).toBe(75);
    expect(tile("reminder_confirmation").figure).toBe("reminder_confirmed");
    expect(tile("reminder_confirmation").note!(f)).toBe("6 of 8 reminded bookings");
    expect(tile("reminder_cancellation").note!(f)).toBe("1 of 8 reminded bookings");
    expect(tile("missed_calls").value(f)).toBe(5);
    expect(tile("missed_calls").note!(f)).toBe("4 text-backs sent");
    expect(tile("text_backs").value(f)).toBe(4);
    expect(tile("text_backs").note!(f)).toBe("after 5 missed calls");
    expect(tile("text_backs").note!(figures({ missed_calls: 1 }))).toBe("after 1 missed call");
    expect(tile("recovered").value(f)).toBe(2);
    expect(tile("recovered").note!(f)).toBe("40.0% booked within 7 days");
    // No missed calls: no rate, and nothing to compare a rate with.
    const quiet = figures({ missed_calls: 0, recovered: 0, recovered_pct: null, reminded: 0, reminder_confirmed: 0, reminder_confirmed_pct: null });
    expect(tile("recovered").note!(quiet)).toBeNull();
    expect(formatValue(tile("reminder_confirmation").value(quiet), "pct", "GBP")).toBe("—");
    // Against the previous period: a confirmation rate up 15 points is good news, more missed
    // calls bad news, more recovered good news.
    const t = tile("reminder_confirmation");
    expect(delta(t.value(f), t.value(figures({ reminder_confirmed_pct: 60 })), t.format, t.better)).toEqual({ text: "+15.0 pts", direction: "up", tone: "good" });
    const m = tile("missed_calls");
    expect(delta(m.value(f), m.value(figures({ missed_calls: 4 })), m.format, m.better)).toEqual({ text: "+25%", direction: "up", tone: "bad" });
    const r = tile("recovered");
    expect(delta(r.value(f), r.value(figures({ recovered: 1 })), r.format, r.better)).toEqual({ text: "+100%", direction: "up", tone: "good" });
    expect(delta(t.value(quiet), t.value(f), t.format, t.better).text).toBe("");
  });

  it("formats values the way the tiles show them", () => {
    expect(formatValue(1234, "count", "GBP")).toBe("1,234");
    expect(formatValue(54000, "money", "GBP")).toBe("£540.00");
    expect(formatValue(12.5, "pct", "GBP")).toBe("12.5%");
    expect(formatValue(null, "pct", "GBP")).toBe("—");
    expect(formatDuration(45)).toBe("45 s");
    expect(formatDuration(300)).toBe("5 min");
    expect(formatDuration(3 * 3600 + 5 * 60)).toBe("3 h 5 min");
    expect(formatDuration(2 * 86400 + 3 * 3600)).toBe("2 d 3 h");
  });
});

const call = (over: Partial<ReportCallRow> = {}): ReportCallRow => ({
  call_id: "twilio:CA1", called_at: "2027-05-10T10:00:00Z", date: "2027-05-10", customer_id: "cu1", customer_name: null, customer_phone: "+14155550101",
  text_back_sent_at: "2027-05-10T10:00:00Z", text_back_channel: "sms", recovered_by_booking_id: null, booked_at: null, ...over,
});

describe("the rows behind a figure", () => {
  it("export as the kind of row the figure counts", () => {
    expect(["missed_calls", "text_backs", "recovered"].map((f) => exportFor(f as ReportRows["figure"]))).toEqual(["calls", "calls", "calls"]);
    expect(["bookings", "cancelled", "attended", "no_shows", "reminded", "reminder_confirmed", "reminder_cancelled"].map((f) => exportFor(f as ReportRows["figure"]))).toEqual(Array(7).fill("bookings"));
    expect(["conversations", "handed_over", "taken_over", "reopened", "wait_for_person", "first_response", "handled_by_assistant"].map((f) => exportFor(f as ReportRows["figure"]))).toEqual(Array(7).fill("conversations"));
    // Every tile's rows have an export.
    for (const t of TILES) expect(["calls", "bookings", "conversations"]).toContain(exportFor(t.figure));
  });

  it("counts calls like the other rows, also from a service that lists none", () => {
    const rows: ReportRows = { figure: "missed_calls", conversations: [], bookings: [], calls: [call(), call({ call_id: "twilio:CA2" })] };
    expect(rowCount(rows)).toBe(2);
    expect(callsOf(rows).map((c) => c.call_id)).toEqual(["twilio:CA1", "twilio:CA2"]);
    const older = { figure: "missed_calls", conversations: [], bookings: [] } as unknown as ReportRows;
    expect(rowCount(older)).toBe(0);
    expect(callsOf(older)).toEqual([]);
  });

  it("names the caller and says what became of the call, on the business's days", () => {
    expect(caller(call())).toBe("+14155550101");
    expect(caller(call({ customer_name: "Nia Jones" }))).toBe("Nia Jones");
    expect(caller(call({ customer_phone: null }))).toBe("Unknown caller");
    expect(recoveredLabel(call(), "Europe/London")).toBe("Not yet");
    // 23:30 UTC on the 11th is already the 12th in London (BST).
    expect(recoveredLabel(call({ recovered_by_booking_id: "b1", booked_at: "2027-05-11T23:30:00Z" }), "Europe/London")).toBe("Booked 12 May");
  });
});

describe("filters become the report's query", () => {
  it("counts days in the business's zone, not this computer's", () => {
    // 23:30 UTC on 30 Nov is already 1 Dec in Auckland and still 30 Nov in New York.
    const now = new Date("2026-11-30T23:30:00Z");
    expect(todayIn("Pacific/Auckland", now)).toBe("2026-12-01");
    expect(todayIn("America/New_York", now)).toBe("2026-11-30");
  });

  it("turns presets into inclusive local days ending today", () => {
    expect(presetRange("Last 7 days", "2026-12-04")).toEqual({ from: "2026-11-28", to: "2026-12-04" });
    expect(presetRange("Last 30 days", "2026-03-10")).toEqual({ from: "2026-02-09", to: "2026-03-10" });
    expect(daysIn(presetRange("Last 90 days", "2026-12-04").from, "2026-12-04")).toBe(90);
    expect(presetRange("This month", "2026-12-04")).toEqual({ from: "2026-12-01", to: "2026-12-04" });
    expect(presetRange("Last month", "2026-03-15")).toEqual({ from: "2026-02-01", to: "2026-02-28" });
    expect(presetRange("Last month", "2026-01-02")).toEqual({ from: "2025-12-01", to: "2025-12-31" });
    // Days, not hours: the day the clocks change is one day like the others.
    expect(addDays("2026-03-29", 1)).toBe("2026-03-30");
  });

  it("passes channel and person only when one is picked", () => {
    const range = { from: "2026-11-01", to: "2026-11-30" };
    expect(filterFor(range, "", "")).toEqual({ from: "2026-11-01", to: "2026-11-30", channel: null, staff_id: null });
    expect(filterFor(range, "whatsapp", "s1")).toEqual({ from: "2026-11-01", to: "2026-11-30", channel: "whatsapp", staff_id: "s1" });
    // A chart's day keeps the filters and narrows the days.
    expect(dayFilter(filterFor(range, "sms", ""), "2026-11-07")).toEqual({ from: "2026-11-07", to: "2026-11-07", channel: "sms", staff_id: null });
  });

  it("refuses a range the service would refuse, before asking", () => {
    expect(rangeProblem("2026-11-01", "2026-11-30")).toBeNull();
    expect(rangeProblem("2026-11-30", "2026-11-01")).toBe("The range ends before it starts.");
    expect(rangeProblem("2025-01-01", "2026-11-30")).toBe("Reports cover at most 400 days at a time.");
    expect(rangeProblem("", "2026-11-30")).toBe("Pick both dates.");
    expect(rangeProblem("2026-02-30", "2026-03-01")).toBe("Pick both dates.");
  });

  it("labels ranges and days for people", () => {
    expect(rangeLabel("2026-11-01", "2026-11-30")).toBe("1 Nov – 30 Nov 2026");
    expect(rangeLabel("2025-12-20", "2026-01-05")).toBe("20 Dec 2025 – 5 Jan 2026");
    expect(rangeLabel("2026-11-07", "2026-11-07")).toBe("7 Nov 2026");
    const [xs, ys] = series([{ date: "2026-11-01", conversations: 3, handled_by_assistant: 2, handed_over: 1, taken_over: 0, bookings: 1, booked_value_cents: 4500 }], (d) => d.bookings);
    expect([xs, ys]).toEqual([[0], [1]]);
  });
});

describe("offline, the screen says what it shows", () => {
  const asked = { from: "2026-11-05", to: "2026-12-04", channel: null, staff_id: null };
  const answer = (over: Partial<ReportAnswer>): ReportAnswer => ({
    summary: { definitions_version: "1", timezone: "Europe/London", currency: "GBP", current: figures(), previous: figures(), days: [], conversations_by_channel: [], bookings_by_source: [], bookings_by_channel: [], bookings_by_service: [], bookings_by_staff: [], staff: [] },
    filter: asked,
    fetched_at: new Date(2026, 11, 4, 14, 2).toISOString(),
    offline: false,
    ...over,
  });

  it("says nothing about fresh figures", () => {
    expect(freshness(answer({}), asked)).toBeNull();
  });

  it("marks the last figures fetched with their time", () => {
    const now = new Date(2026, 11, 4, 15, 30);
    expect(freshness(answer({ offline: true }), asked, now)).toBe("Offline — showing the figures loaded at 14:02. They update when the connection is back.");
    const yesterday = new Date(2026, 11, 5, 9, 0);
    expect(freshness(answer({ offline: true }), asked, yesterday)).toMatch(/^Offline — showing the figures loaded at 4 Dec(,| at) 14:02\./);
  });

  it("says when the kept figures are for other days or filters than asked", () => {
    const now = new Date(2026, 11, 4, 15, 30);
    const other = { from: "2026-11-01", to: "2026-11-30", channel: "sms", staff_id: null };
    expect(freshness(answer({ offline: true, filter: other }), asked, now)).toBe("Offline — showing the figures loaded at 14:02 for 1 Nov – 30 Nov 2026 (filtered). They update when the connection is back.");
  });

  it("needs the network when nothing was fetched before; a refusal is said as it is", () => {
    expect(loadProblem("offline", "The service cannot be reached.")).toMatch(/^Reports need the network/);
    expect(loadProblem("refused", "You do not have permission to do that.")).toBe("You do not have permission to do that.");
  });
});
