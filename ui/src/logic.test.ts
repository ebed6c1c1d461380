import { describe, expect, it } from "vitest";
import type { CannedResponse } from "./bindings/CannedResponse";
import type { Status } from "./bindings/Status";
import { dirtyFrom } from "./changes";
import { composerHint, fillTemplate, matchCanned, slashQuery, templateReason } from "./composer";
import { bookingLine, deliveryMark, handlerLabel, initials, listTime, outboxLabel, syncLabel, waitingFor, waitTone } from "./format";
import type { Booking } from "./bindings/Booking";
import { wordsProblem, wordsToAdd } from "./words";
import { moveSelection } from "./keys";
import { describeMutation } from "./outbox";
import { ConsoleError } from "./api";
import { mayBook, slotError, slotState } from "./slots";

const canned = (shortcut: string, title: string): CannedResponse => ({ id: shortcut, business_id: "b", shortcut, title, body: `${title}!`, created_at: "", updated_at: "" });

const status = (state: Status["state"], pending = 0, failed = 0): Status => ({ state, cursor: 1, pending, failed });

describe("what the front desk reads", () => {
  it("names who handles a conversation", () => {
    expect(handlerLabel({ kind: "needs_human" })).toBe("Needs a person");
    expect(handlerLabel({ kind: "me" })).toBe("You");
    expect(handlerLabel({ kind: "colleague", staff_id: "s", name: "Priya" })).toBe("Priya");
  });

  it("shows times the way a list does", () => {
    const now = new Date(2026, 10, 25, 15, 0);
    expect(listTime(new Date(2026, 10, 25, 9, 5).toISOString(), now)).toBe("09:05");
    expect(listTime(new Date(2026, 10, 24, 9, 5).toISOString(), now)).toBe("Yesterday");
    expect(listTime(new Date(2026, 10, 21, 9, 5).toISOString(), now)).toBe("Saturday");
    expect(listTime(new Date(2026, 2, 3).toISOString(), now)).toBe("3 Mar");
    expect(listTime(new Date(2025, 2, 3).toISOString(), now)).toBe("3 Mar 2025");
  });

  it("ticks follow delivery", () => {
    expect(deliveryMark("sent").mark).toBe("✓");
    expect(deliveryMark("read")).toEqual({ mark: "✓✓", words: "Read" });
    expect(deliveryMark("failed").words).toBe("Not delivered");
  });

  it("says plainly whether the console is online and what waits", () => {
    expect(syncLabel(status({ state: "live" }))).toEqual({ tone: "ok", text: "Online" });
    expect(syncLabel(status({ state: "offline", reason: "refused", retry_in_ms: 4600 })).text).toBe("Offline — trying again in 5 s");
    expect(outboxLabel(status({ state: "live" }, 2, 1))).toBe("2 waiting to send · 1 failed");
    expect(outboxLabel(status({ state: "live" }))).toBe("");
  });

  it("makes initials from names, not numbers", () => {
    expect(initials("Ada Lovelace King")).toBe("AK");
    expect(initials("+44 7700 900123")).toBe("#");
    expect(initials("  ")).toBe("?");
  });

  it("describes waiting actions as sentences", () => {
    const about = { conversation_id: "c1" };
    expect(describeMutation({ name: "send_message", args: { ...about, message_id: "m1", body: "See you at 3" } })).toBe("Reply “See you at 3”");
    expect(describeMutation({ name: "take_over", args: about })).toBe("Take over a conversation");
    expect(describeMutation({ name: "assign", args: { ...about, staff_id: null } })).toBe("Unassign a conversation");
    expect(describeMutation({ name: "label_conversation", args: { ...about, add: ["vip"], remove: ["colour"] } })).toBe("Label +vip −colour");
    expect(describeMutation({ name: "tag_customer", args: { customer_id: "k", add: ["regular"], remove: [] } })).toBe("Tag +regular");
  });
});

describe("the queue", () => {
  const now = new Date("2026-11-25T15:00:00Z");
  const ago = (minutes: number) => new Date(now.getTime() - minutes * 60_000).toISOString();

  it("says how long a customer has waited", () => {
    expect(waitingFor(ago(0.5), now)).toBe("under a minute");
    expect(waitingFor(ago(4), now)).toBe("4 min");
    expect(waitingFor(ago(65), now)).toBe("1 h 05 min");
    expect(waitingFor(ago(27 * 60 + 5), now)).toBe("1 d 3 h");
    expect(waitingFor(ago(-2), now)).toBe("under a minute");
  });

  it("colours the wait against the business's target", () => {
    expect(waitTone(ago(2), 5, now)).toBe("ok");
    expect(waitTone(ago(3), 5, now)).toBe("near");
    expect(waitTone(ago(5), 5, now)).toBe("late");
    expect(waitTone(ago(50), 60, now)).toBe("near");
    expect(waitTone(ago(1), 0, now)).toBe("late");
  });

  it("reads typed labels and tags the way the service stores them", () => {
    expect(wordsToAdd(" vip ,wedding   party,, vip", [])).toEqual(["vip", "wedding party"]);
    expect(wordsToAdd("vip, colour", ["vip"])).toEqual(["colour"]);
    expect(wordsToAdd("  ,  ", [])).toEqual([]);
    expect(wordsProblem(["x".repeat(41)], 40, "label")).toMatch(/at most 40 characters/);
    expect(wordsProblem(["é".repeat(40)], 40, "label")).toBeNull();
  });

  it("refreshes the open customer when a tag is queued and the queue's target when the business changes", () => {
    const open = { conversationId: "c1", customerId: "k1" };
    expect(dirtyFrom([{ type: "outbox" }], open).customer).toBe(true);
    expect(dirtyFrom([{ type: "changed", entities: [["business", "b1"]], resync: false }], open).directory).toBe(true);
  });
});

describe("the composer", () => {
  it("opens canned responses on a leading slash only", () => {
    expect(slashQuery("/hou")).toBe("hou");
    expect(slashQuery("/")).toBe("");
    expect(slashQuery("see /hours")).toBeNull();
    expect(slashQuery("/hours please")).toBeNull();
  });

  it("ranks shortcut matches before title matches", () => {
    const list = [canned("prices", "Our hours and prices"), canned("hours", "Opening hours"), canned("parking", "Where to park")];
    expect(matchCanned("ho", list).map((c) => c.shortcut)).toEqual(["hours", "prices"]);
    expect(matchCanned("", list)).toHaveLength(3);
  });

  it("tells the person what replying does", () => {
    const open = { free_text: true, until: null, templates: false };
    expect(composerHint({ kind: "assistant" }, open).hint).toMatch(/takes this conversation over/);
    expect(composerHint({ kind: "colleague", staff_id: "s", name: "Sam" }, open)).toEqual({ canReply: false, hint: "Sam is handling this conversation" });
    expect(composerHint({ kind: "me" }, { free_text: false, until: null, templates: false }).canReply).toBe(false);
  });

  it("says why only a template can be sent, from the service's window", () => {
    expect(templateReason({ free_text: false, until: null, templates: true })).toMatch(/has not written/);
    expect(templateReason({ free_text: false, until: "2026-11-25T09:00:00Z", templates: true })).toMatch(/closed on 25 Nov/);
  });

  it("previews templates", () => {
    expect(fillTemplate("Hi {{1}}, see you {{2}}", ["Ana"])).toBe("Hi Ana, see you {{2}}");
  });
});

describe("lists and calendars", () => {
  it("keeps keyboard selection in range", () => {
    expect(moveSelection(0, "ArrowUp", 5)).toBe(0);
    expect(moveSelection(3, "j", 5)).toBe(4);
    expect(moveSelection(4, "ArrowDown", 5)).toBe(4);
    expect(moveSelection(2, "End", 5)).toBe(4);
    expect(moveSelection(9, "x", 5)).toBe(4);
    expect(moveSelection(0, "j", 0)).toBe(-1);
  });

  it("books only what the service says is free, or leaves it to the service when offline", () => {
    const free = slotState({ available: true, reason: null, message: null, slot: null, alternatives: [] });
    expect(mayBook(free)).toBe(true);
    const taken = slotState({ available: false, reason: "slot_taken", message: "That time has just been taken.", slot: null, alternatives: [] });
    expect(taken).toEqual({ state: "refused", message: "That time has just been taken." });
    expect(mayBook(taken)).toBe(false);
    const offline = slotError(new ConsoleError({ kind: "offline", message: "The service cannot be reached." }));
    expect(offline.state).toBe("unchecked");
    expect(mayBook(offline)).toBe(true);
    expect(slotError(new ConsoleError({ kind: "refused", message: "That staff member does not do this service." }))).toEqual({ state: "refused", message: "That staff member does not do this service." });
    expect(mayBook({ state: "checking" })).toBe(false);
  });

  it("reloads only the views whose data changed", () => {
    const open = { conversationId: "c1", customerId: "u1" };
    const d = dirtyFrom([{ type: "changed", entities: [["booking", "b1"]], resync: false }], open);
    expect(d.calendar && d.customer).toBe(true);
    expect(d.inbox).toBe(false);
    const c = dirtyFrom([{ type: "changed", entities: [["conversation", "c2"]], resync: false }], open);
    expect(c.inbox).toBe(true);
    expect(c.conversation).toBe(false);
    expect(dirtyFrom([{ type: "changed", entities: [], resync: true }], open).directory).toBe(true);
  });
});

describe("settings", () => {
  it("reads prices the way people type them", async () => {
    const { parsePrice, formatPrice } = await import("./hours");
    expect(parsePrice("25")).toBe(2500);
    expect(parsePrice("25,5")).toBe(2550);
    expect(parsePrice("25.05")).toBe(2505);
    expect(parsePrice("abc")).toBeNull();
    expect(formatPrice(2505)).toBe("25.05");
  });
});

describe("the desk's new screens", () => {
  it("filters the audit log by person, kind and words", async () => {
    const { filterAudit } = await import("./audit");
    const e = (id: string, actor: string | null, action: string, target: string | null) =>
      ({ id, actor_staff_id: actor, action, target_kind: target ? "booking" : null, target_id: target, detail: {}, created_at: "2027-01-01T00:00:00Z" }) as never;
    const all = [e("1", "maya", "booking.cancelled", "b1"), e("2", "sam", "staff.updated", null), e("3", null, "booking.created", "b2")];
    expect(filterAudit(all, { staffId: null, kind: "booking", text: "" }).map((x: { id: string }) => x.id)).toEqual(["1", "3"]);
    expect(filterAudit(all, { staffId: "sam", kind: null, text: "" }).map((x: { id: string }) => x.id)).toEqual(["2"]);
    expect(filterAudit(all, { staffId: null, kind: null, text: "b2" }).map((x: { id: string }) => x.id)).toEqual(["3"]);
  });

  it("offers the encrypted file or this session only when there is no keyring", async () => {
    const { keepChoices } = await import("./SignIn");
    expect(keepChoices(true)).toEqual(["keyring"]);
    expect(keepChoices(false)).toEqual(["file", "session"]);
  });

  it("says what a new customer and a first message are in the outbox", () => {
    expect(describeMutation({ name: "create_customer", args: { customer_id: "c", customer: { name: "Wendy", phone: null, whatsapp_id: null, email: null, tags: [], notes: "" } } })).toBe("New customer “Wendy”");
    expect(describeMutation({ name: "start_conversation", args: { conversation_id: "x", customer_id: "c", channel: "whatsapp", message_id: "m", body: null, template_id: "t", variables: [] } })).toBe("First message (WhatsApp template)");
  });
});

describe("a customer's whole history", () => {
  const booking = (over: Partial<Booking>): Booking => ({
    id: "b1", business_id: "b", customer_id: "k", service_id: "s", staff_id: "st", start: new Date(2026, 11, 5, 15, 0).toISOString(), end: "",
    local_start: "", local_end: "", status: "confirmed", source: "staff", notes: "", version: 1, created_by_staff_id: null, cancel_reason: null,
    confirmation: "unconfirmed", created_at: "", updated_at: "", ...over,
  });

  it("tells bookings as lines of the story", () => {
    expect(bookingLine(booking({}), "Cut", "Sam")).toBe("Booked Cut with Sam for Sat 5 Dec, 15:00");
    expect(bookingLine(booking({ source: "assistant", status: "no_show" }), null, null)).toBe("The assistant booked an appointment for Sat 5 Dec, 15:00 (no show)");
    expect(bookingLine(booking({ confirmation: "confirmed" }), "Cut", null)).toBe("Booked Cut for Sat 5 Dec, 15:00 (the customer confirmed)");
  });
});
