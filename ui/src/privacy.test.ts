import { describe, expect, it, vi } from "vitest";
import { ConsoleError } from "./api";
import { base64Bytes, erasedSummary, eraseConfirmed, formatBytes, parseRetention, savedNote, securityMessage, sensitive, sensitiveIfAsked, type Proof } from "./privacy";

const refused = (code: string) => new ConsoleError({ kind: "refused", message: code, code });
const offline = () => new ConsoleError({ kind: "offline", message: "The service cannot be reached." });

describe("sensitive actions", () => {
  it("ask for the password, confirm it with the service, then act", async () => {
    const order: string[] = [];
    const result = await sensitive({
      ask: async () => { order.push("ask"); return { password: "pw" }; },
      reauthenticate: async (p: Proof) => { order.push(`reauth:${"password" in p ? p.password : p.code}`); },
      action: async () => { order.push("act"); return 7; },
    });
    expect(result).toEqual({ ok: true, value: 7 });
    expect(order).toEqual(["ask", "reauth:pw", "act"]);
  });

  it("ask again after a wrong password or code, at most three times", async () => {
    const answers: Proof[] = [{ password: "wrong" }, { code: "000000" }, { code: "123456" }];
    const action = vi.fn(async () => "done");
    const result = await sensitive({
      ask: async () => answers.shift() ?? null,
      reauthenticate: async (p) => { if (!("code" in p) || p.code !== "123456") throw refused("password" in p ? "invalid_credentials" : "invalid_code"); },
      action,
    });
    expect(result).toEqual({ ok: true, value: "done" });
    const never = await sensitive({ ask: async () => ({ password: "x" }), reauthenticate: async () => { throw refused("invalid_credentials"); }, action });
    expect(never).toEqual({ ok: false, cancelled: false, message: "That password is not right." });
    expect(action).toHaveBeenCalledTimes(1);
  });

  it("say offline that a re-authentication needs the network, and never act", async () => {
    const ask = vi.fn(async () => ({ password: "pw" }));
    const action = vi.fn(async () => 1);
    const result = await sensitive({ ask, reauthenticate: async () => { throw offline(); }, action });
    expect(result).toEqual({ ok: false, cancelled: false, message: "A re-authentication needs the network: connect and try again." });
    expect(ask).toHaveBeenCalledTimes(1);
    expect(action).not.toHaveBeenCalled();
  });

  it("do nothing when the person cancels", async () => {
    const reauthenticate = vi.fn(async () => {});
    const action = vi.fn(async () => 1);
    expect(await sensitive({ ask: async () => null, reauthenticate, action })).toEqual({ ok: false, cancelled: true, message: "" });
    expect(reauthenticate).not.toHaveBeenCalled();
    expect(action).not.toHaveBeenCalled();
  });

  it("report the action's own refusal in words", async () => {
    const result = await sensitive({ ask: async () => ({ password: "pw" }), reauthenticate: async () => {}, action: async () => { throw refused("forbidden"); } });
    expect(result).toEqual({ ok: false, cancelled: false, message: "Only an owner or an admin can do that." });
    expect(securityMessage(refused("something_new"))).toBe("something_new");
  });
});

describe("actions the service guards only sometimes (channels)", () => {
  it("run at once while the sign-in is fresh, and ask only when the service wants proof", async () => {
    const ask = vi.fn(async () => ({ password: "pw" }) as Proof);
    const reauthenticate = vi.fn(async () => {});
    expect(await sensitiveIfAsked({ ask, reauthenticate, action: async () => "saved" })).toEqual({ ok: true, value: "saved" });
    expect(ask).not.toHaveBeenCalled();
    let proven = false;
    const action = vi.fn(async () => { if (!proven) throw refused("reauthentication_required"); return "saved"; });
    const result = await sensitiveIfAsked({ ask, reauthenticate: async () => { proven = true; }, action });
    expect(result).toEqual({ ok: true, value: "saved" });
    expect(ask).toHaveBeenCalledTimes(1);
    expect(action).toHaveBeenCalledTimes(2);
    expect(await sensitiveIfAsked({ ask, reauthenticate, action: async () => { throw refused("validation_failed"); } })).toEqual({ ok: false, cancelled: false, message: "validation_failed" });
    expect(ask).toHaveBeenCalledTimes(1);
  });
});

describe("data protection", () => {
  it("says where a saved file went, or that it could not be saved", () => {
    const at = (path: string | null) => ({ saved: true, path });
    expect(savedNote("customer-nia.zip", at("/home/anna/Downloads/customer-nia (1).zip"), "12 KB")).toEqual({ ok: true, text: "Saved to /home/anna/Downloads/customer-nia (1).zip (12 KB)." });
    expect(savedNote("bookings.csv", at("C:\\Users\\anna\\Downloads\\bookings.csv"))).toEqual({ ok: true, text: "Saved to C:\\Users\\anna\\Downloads\\bookings.csv." });
    // Saved, but the system does not say where (macOS); a browser shows its own downloads.
    expect(savedNote("bookings.csv", at(null))).toEqual({ ok: true, text: "Saved bookings.csv." });
    expect(savedNote("bookings.csv", null)).toEqual({ ok: true, text: "Saved bookings.csv." });
    const failed = savedNote("bookings.csv", { saved: false, path: null });
    expect(failed.ok).toBe(false);
    expect(failed.text).toMatch(/^bookings\.csv could not be saved/);
  });


  it("turns an export's base64 back into the ZIP's bytes", () => {
    expect(Array.from(base64Bytes("UEsDBA=="))).toEqual([0x50, 0x4b, 0x03, 0x04]);
    expect(formatBytes(512)).toBe("512 bytes");
    expect(formatBytes(2048)).toBe("2.0 KB");
    expect(formatBytes(3 * 1024 * 1024)).toBe("3.0 MB");
  });

  it("reads the retention form: empty keeps for ever, nonsense is refused before the service", () => {
    expect(parseRetention("", "")).toEqual({ policy: { conversations_months: null, recordings_days: null } });
    expect(parseRetention(" 6 ", "30")).toEqual({ policy: { conversations_months: 6, recordings_days: 30 } });
    expect(parseRetention("0", "")).toHaveProperty("error");
    expect(parseRetention("1.5", "")).toHaveProperty("error");
    expect(parseRetention("", "-3")).toHaveProperty("error");
    expect(parseRetention("1201", "")).toHaveProperty("error");
  });

  it("sums an erasure up and asks for the word ERASE", () => {
    expect(erasedSummary({ conversations: 1, messages: 3, notes: 1, bookings_anonymised: 2, outbox: 1 })).toBe("Erased: 1 conversation, 3 messages, 1 note, 2 bookings kept anonymised.");
    expect(erasedSummary({})).toBe("Erased.");
    expect(eraseConfirmed(" erase ")).toBe(true);
    expect(eraseConfirmed("delete")).toBe(false);
  });
});

describe("signing in with a second factor", async () => {
  const { signInMessage } = await import("./SignIn");
  it("asks for the code when the service says so, and says why a code or account was refused", () => {
    expect(signInMessage(refused("two_factor_required"), false)).toContain("enter the code from your authenticator app");
    expect(signInMessage(refused("invalid_code"), true)).toContain("code is not right");
    expect(signInMessage(refused("invalid_credentials"), false)).toBe("That email and password do not match.");
    expect(signInMessage(refused("two_factor_enrolment_required"), false)).toContain("requires two-factor sign-in");
    expect(signInMessage(offline(), false)).toBe("The service cannot be reached.");
  });
});
