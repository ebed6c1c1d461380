import { describe, expect, it } from "vitest";
import {
  addRule,
  canMarkConfirmed,
  localNote,
  markedConfirmed,
  automationProblems,
  changedSettings,
  confirmationState,
  offsetLabel,
  refusal,
  ruleId,
  ruleLabel,
  runLines,
  FOLLOW_UP_STOPS,
  splitOffset,
  unconfirmedSoon,
  unknownVariables,
  withBooking,
  withMarkedConfirmed,
  CONFIRMATION_LABEL,
  withOffset,
} from "./automations";
import type { AutomationRun } from "./bindings/AutomationRun";
import type { AutomationSettings } from "./bindings/AutomationSettings";
import type { Booking } from "./bindings/Booking";
import type { CalendarEntry } from "./bindings/CalendarEntry";

const settings = (): AutomationSettings => ({
  confirmations: true,
  reminders: true,
  reminder_rules: [{ id: "24h", minutes_before: 1440 }, { id: "2h", minutes_before: 120 }],
  quiet_hours: { start: "21:00", end: "08:00" },
  missed_call_text_back: true,
  follow_ups: false,
  follow_up_steps: [{ delay_minutes: 1440 }],
  no_show_rebooking: false,
  texts: {
    confirmation_created: "Hi {customer_name}, you're booked for {service} on {date} at {time}.",
    confirmation_moved: "Moved to {date} {time}.",
    confirmation_cancelled: "Cancelled.",
    reminder: "Reminder: {service} with {staff} at {time}. {reply_codes}",
    reply_confirmed: "Thanks, see you then.",
    reply_cancelled_already: "That booking was cancelled.",
    text_back: "Sorry we missed your call — reply here to book with {business_name}.",
    follow_up: "Still looking for a time?",
    no_show: "We missed you, {customer_name}. Reply to book again.",
  },
  whatsapp_templates: { confirmation: null, reminder: { template_name: "reminder_v2", language: "en_GB", variables: ["customer_name", "time"], quick_replies: ["confirm", "reschedule", "cancel"] }, text_back: null, follow_up: null, no_show: null },
});

const booking = (over: Partial<Booking>): Booking => ({
  id: "b1", business_id: "biz", customer_id: "c", service_id: "s", staff_id: "st",
  start: "2026-12-04T12:00:00Z", end: "2026-12-04T12:30:00Z", local_start: "", local_end: "",
  status: "confirmed", source: "staff", notes: "", version: 1, created_by_staff_id: null, cancel_reason: null,
  confirmation: "unconfirmed", created_at: "", updated_at: "", ...over,
});
const entry = (over: Partial<Booking>): CalendarEntry => ({ booking: booking(over), customer_name: "Ada", staff_name: "Sam", by_assistant: false, local: null });

describe("the automations editor", () => {
  it("accepts the service's defaults", () => {
    expect(automationProblems(settings())).toEqual([]);
  });

  it("finds variables the service does not know, read as the service reads them", () => {
    expect(unknownVariables("Hi {customer_name} at {time}")).toEqual([]);
    expect(unknownVariables("Hi {name}, {name} and {when}")).toEqual(["name", "when"]);
    expect(unknownVariables("a { b")).toEqual([]);
    // `{` runs to the next `}`: "{x {time}" is the unknown name "x {time".
    expect(unknownVariables("{x {time}")).toEqual(["x {time"]);
  });

  it("says what the service would refuse, in the editor's words", () => {
    const s = settings();
    s.texts.reminder = "See you {when}";
    s.texts.follow_up = "  ";
    s.reminder_rules.push({ id: "x", minutes_before: 0 }, { id: "y", minutes_before: 120 });
    s.quiet_hours = { start: "9pm", end: "08:00" };
    s.whatsapp_templates.confirmation = { template_name: "Booking Confirmed", language: "", variables: [], quick_replies: [] };
    const problems = automationProblems(s);
    expect(problems).toContainEqual({ field: "Reminder", message: "Unknown variable {when}." });
    expect(problems).toContainEqual({ field: "Follow-up", message: "This text is empty." });
    expect(problems).toContainEqual({ field: "Reminder 3", message: "A reminder goes between 1 minute and 30 days before the appointment." });
    expect(problems).toContainEqual({ field: "Reminders", message: "Two reminders at the same time: remove one." });
    expect(problems).toContainEqual({ field: "Quiet hours", message: "Quiet hours are times like 21:00." });
    expect(problems.filter((p) => p.field === "WhatsApp template for confirmations")).toHaveLength(2);
    s.reminder_rules = Array.from({ length: 6 }, (_, i) => ({ id: `${i}h`, minutes_before: (i + 1) * 60 }));
    expect(automationProblems(s)).toContainEqual({ field: "Reminders", message: "At most 5 reminders." });
  });

  it("shows and edits reminder offsets in whole units, naming a changed one anew", () => {
    expect(offsetLabel(1440)).toBe("1 day before");
    expect(offsetLabel(2880)).toBe("2 days before");
    expect(offsetLabel(120)).toBe("2 h before");
    expect(offsetLabel(90)).toBe("1 h 30 min before");
    expect(offsetLabel(30)).toBe("30 min before");
    expect(splitOffset(1440)).toEqual({ amount: 24, unit: "hours" });
    expect(splitOffset(4320)).toEqual({ amount: 3, unit: "days" });
    expect(splitOffset(45)).toEqual({ amount: 45, unit: "minutes" });
    expect(ruleId(180, ["24h"])).toBe("3h");
    expect(ruleId(120, ["2h"])).toBe("2h-2");
    const rules = settings().reminder_rules;
    expect(withOffset(rules, 1, 120)).toEqual(rules);
    expect(withOffset(rules, 1, 120)[1]).toEqual({ id: "2h", minutes_before: 120 });
    expect(withOffset(rules, 1, 180)[1]).toEqual({ id: "3h", minutes_before: 180 });
    expect(withOffset(rules, 0, 30)).toEqual([{ id: "30m", minutes_before: 30 }, { id: "2h", minutes_before: 120 }]);
    expect(addRule(rules).map((r) => r.minutes_before)).toEqual([1440, 120, 60]);
    expect(addRule([]).map((r) => r.id)).toEqual(["24h"]);
  });

  it("sends only what changed", () => {
    const before = settings();
    const after = settings();
    after.texts.reminder = "New text {time}";
    after.follow_ups = true;
    expect(changedSettings(before, after)).toEqual({ texts: after.texts, follow_ups: true });
    expect(changedSettings(before, settings())).toEqual({});
  });

  it("turns the service's refusals into plain words", () => {
    expect(refusal("validation_failed", "`texts.reminder` uses an unknown variable `{when}`.")).toBe("Not saved: “Reminder” uses an unknown variable {when}.");
    expect(refusal("validation_failed", "`minutes_before` must be between 1 and 43200 (30 days).")).toBe("Not saved: “Reminder time” must be between 1 and 43200 (30 days).");
    expect(refusal("forbidden", "Forbidden.")).toBe("Only owners and admins can change this.");
    expect(refusal("invalid_oauth_state", "x")).toMatch(/Connect again/);
    expect(refusal(undefined, "Something else.")).toBe("Something else.");
  });
});

describe("confirmations on the calendar", () => {
  it("says cancelled first, then whether the customer confirmed", () => {
    expect(confirmationState(booking({ confirmation: "confirmed" }))).toBe("confirmed");
    expect(confirmationState(booking({}))).toBe("unconfirmed");
    expect(confirmationState(booking({ status: "pending" }))).toBe("unconfirmed");
    expect(confirmationState(booking({ status: "cancelled", confirmation: "confirmed" }))).toBe("cancelled");
    expect(confirmationState(booking({ status: "no_show" }))).toBe("no_show");
    // Synced before bookings carried a confirmation.
    expect(confirmationState({ status: "confirmed" })).toBe("unconfirmed");
  });

  it("lists bookings still unconfirmed in the next two hours, earliest first", () => {
    const now = new Date("2026-12-04T10:00:00Z");
    const list = unconfirmedSoon(
      [
        entry({ id: "late", start: "2026-12-04T11:30:00Z" }),
        entry({ id: "soon", start: "2026-12-04T10:15:00Z" }),
        entry({ id: "edge", start: "2026-12-04T12:00:00Z" }),
        entry({ id: "after", start: "2026-12-04T12:00:01Z" }),
        entry({ id: "started", start: "2026-12-04T10:00:00Z" }),
        entry({ id: "confirmed", start: "2026-12-04T10:30:00Z", confirmation: "confirmed" }),
        entry({ id: "cancelled", start: "2026-12-04T10:30:00Z", status: "cancelled" }),
        entry({ id: "done", start: "2026-12-04T10:30:00Z", status: "completed" }),
      ],
      now,
    );
    expect(list.map((e) => e.booking.id)).toEqual(["soon", "late", "edge"]);
  });
});

describe("marking a booking confirmed for the customer", () => {
  const entry = (over: Partial<Booking> = {}, local: CalendarEntry["local"] = null): CalendarEntry =>
    ({ booking: { id: "b1", status: "confirmed", confirmation: "unconfirmed", version: 3, start: "2026-12-04T15:00:00Z", ...over } as Booking, customer_name: "Ada", staff_name: "Sam", by_assistant: false, local }) as CalendarEntry;

  it("is offered only for unconfirmed bookings that are on the service, going ahead and not begun", () => {
    const now = new Date("2026-12-04T14:00:00Z");
    expect(canMarkConfirmed(entry(), now)).toBe(true);
    expect(canMarkConfirmed(entry({ status: "pending" }), now)).toBe(true);
    expect(canMarkConfirmed(entry({ confirmation: "confirmed" }), now)).toBe(false);
    expect(canMarkConfirmed(entry({ status: "cancelled" }), now)).toBe(false);
    expect(canMarkConfirmed(entry({ status: "completed" }), now)).toBe(false);
    expect(canMarkConfirmed(entry({}, { state: "pending", mutation_id: 1 }), now)).toBe(false);
    // Refused (the booking changed meanwhile): it can be tried again.
    expect(canMarkConfirmed(entry({}, { state: "refused", mutation_id: 1, code: "version_conflict", reason: "stale" }), now)).toBe(true);
    // Once the appointment has begun the service refuses it, so it is not offered.
    expect(canMarkConfirmed(entry(), new Date("2026-12-04T15:00:00Z"))).toBe(false);
    expect(canMarkConfirmed(entry(), new Date("2026-12-04T14:59:59Z"))).toBe(true);
  });

  it("shows a confirmation queued here at once, pending, and a refusal in words", () => {
    const now = new Date("2026-12-04T14:00:00Z");
    const queued = markedConfirmed(entry(), 7);
    expect(queued.booking.confirmation).toBe("confirmed");
    expect(queued.local).toEqual({ state: "pending", mutation_id: 7 });
    expect(canMarkConfirmed(queued, now)).toBe(false);
    expect(unconfirmedSoon([queued], now)).toEqual([]);
    expect(localNote(queued)).toBe("Waiting to send: it is applied when the service can be reached.");
    expect(localNote(entry({}, { state: "refused", mutation_id: 7, code: "version_conflict", reason: "stale" }))).toBe(
      "Not saved: The booking changed meanwhile. Look again and retry.",
    );
    expect(localNote(entry())).toBeNull();
  });

  it("in the customer panel: marked at once, and a refusal rolled back to the service's state in plain words", () => {
    const now = new Date("2026-12-04T14:00:00Z");
    const other = entry({ id: "b2", start: "2026-12-04T16:00:00Z" });
    const marked = withMarkedConfirmed([entry(), other], "b1", 9);
    expect(marked.map((e) => [confirmationState(e.booking), e.local?.state ?? null])).toEqual([["confirmed", "pending"], ["unconfirmed", null]]);
    expect(marked[1]).toBe(other);
    expect(canMarkConfirmed(marked[0], now)).toBe(false);
    // The console's answer after the service refused: the booking as the service holds it, and why.
    const cancelled = entry({ status: "cancelled" }, { state: "refused", mutation_id: 9, code: "invalid_transition", reason: "The booking was cancelled, so it cannot be marked confirmed." });
    expect(CONFIRMATION_LABEL[confirmationState(cancelled.booking)]).toBe("Cancelled");
    expect(localNote(cancelled)).toBe("Not saved: The booking was cancelled, so it cannot be marked confirmed.");
    expect(canMarkConfirmed(cancelled, now)).toBe(false);
    const begun = entry({}, { state: "refused", mutation_id: 10, code: "invalid_transition", reason: "The appointment has already started, so it cannot be marked confirmed." });
    expect(CONFIRMATION_LABEL[confirmationState(begun.booking)]).toBe("Unconfirmed");
    expect(localNote(begun)).toBe("Not saved: The appointment has already started, so it cannot be marked confirmed.");
    expect(canMarkConfirmed(begun, new Date("2026-12-04T15:05:00Z"))).toBe(false);
  });

  it("shows the service's answer in place of the booking, and it leaves the Unconfirmed soon list", () => {
    const now = new Date("2026-12-04T14:00:00Z");
    const other = entry({ id: "b2", start: "2026-12-04T15:30:00Z" });
    const entries = [entry(), other];
    expect(unconfirmedSoon(entries, now).map((e) => e.booking.id)).toEqual(["b1", "b2"]);
    const answer = { ...entries[0].booking, confirmation: "confirmed", version: 4 } as Booking;
    const after = withBooking(entries, answer);
    expect(after[0].booking.confirmation).toBe("confirmed");
    expect(after[1]).toBe(other);
    expect(unconfirmedSoon(after, now).map((e) => e.booking.id)).toEqual(["b2"]);
    // An older answer never overwrites what a newer sync brought.
    const newer = withBooking(after, { ...answer, confirmation: "unconfirmed", version: 2 } as Booking);
    expect(newer[0].booking.confirmation).toBe("confirmed");
  });

  it("says what to do when the booking changed meanwhile", () => {
    expect(refusal("version_conflict", "stale")).toBe("The booking changed meanwhile. Look again and retry.");
  });
});

describe("a conversation's automation history", () => {
  const run = (id: string, kind: AutomationRun["kind"], rule: string, status: AutomationRun["status"], due_at: string, reason: string | null = null): AutomationRun => ({
    id,
    business_id: "b",
    kind,
    rule,
    booking_id: null,
    customer_id: "c",
    conversation_id: "v",
    due_at,
    status,
    reason,
    message_id: null,
    created_at: due_at,
    updated_at: due_at,
  });

  it("names each rule as people say it", () => {
    expect(ruleLabel("reminder:24h")).toBe("Reminder 24h");
    expect(ruleLabel("confirmation:created")).toBe("Confirmation: booked");
    expect(ruleLabel("confirmation:moved")).toBe("Confirmation: moved");
    expect(ruleLabel("confirmation:cancelled")).toBe("Confirmation: cancelled");
    expect(ruleLabel("reply:confirmed")).toBe("Answer to “C” (confirmed)");
    expect(ruleLabel("reply:cancelled")).toBe("Answer about a cancelled booking");
    expect(ruleLabel("text_back")).toBe("Missed-call text-back");
    expect(ruleLabel("follow_up:2")).toBe("Follow-up 2");
    expect(ruleLabel("no_show")).toBe("No-show rebooking");
    expect(ruleLabel("something:new")).toBe("something:new");
  });

  it("lists runs oldest first with their state, reason and a follow-up's stop conditions", () => {
    const lines = runLines([
      run("4", "follow_up", "follow_up:2", "planned", "2027-05-04T12:00:00Z"),
      run("1", "confirmation", "confirmation:created", "sent", "2027-05-03T09:00:00.000Z"),
      run("3", "follow_up", "follow_up:1", "stopped", "2027-05-03T10:00:00Z", "takeover"),
      run("2", "reminder", "reminder:24h", "skipped", "2027-05-03T09:30:00Z", "The customer opted out (STOP); no automated message is sent on any channel."),
      run("5", "reminder", "reminder:2h", "dropped", "2027-05-05T07:00:00Z", "The booking was cancelled."),
    ]);
    expect(lines.map((l) => [l.rule, l.state, l.detail])).toEqual([
      ["Confirmation: booked", "Sent", null],
      ["Reminder 24h", "Not sent", "The customer opted out (STOP); no automated message is sent on any channel."],
      ["Follow-up 1", "Stopped", "Stopped because a person took the conversation over."],
      ["Follow-up 2", "Planned", FOLLOW_UP_STOPS],
      ["Reminder 2h", "Dropped", "The booking was cancelled."],
    ]);
    for (const [reason, words] of [
      ["inbound_message", "the customer wrote"],
      ["booking", "the customer booked"],
      ["opted_out", "the customer opted out"],
      ["resolved", "the conversation was resolved"],
    ]) {
      expect(runLines([run("x", "follow_up", "follow_up:1", "stopped", "2027-05-03T10:00:00Z", reason)])[0].detail).toBe(`Stopped because ${words}.`);
    }
  });
});
