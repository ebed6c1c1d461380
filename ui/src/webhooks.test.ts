import { describe, expect, it } from "vitest";
import type { FailedWebhook } from "./bindings/FailedWebhook";
import { afterRetry, bannerText, providerName, seesFailedWebhooks } from "./webhooks";

const failed = (id: string, failed_at: string, over: Partial<FailedWebhook> = {}): FailedWebhook => ({
  id, provider: "whatsapp", received_at: "2026-12-04T09:00:00Z", failed_at, attempts: 12, reason: "customer_exists: the number belongs to another customer", ...over,
});

describe("the failed-webhooks banner", () => {
  it("is for owners and admins only", () => {
    expect(seesFailedWebhooks("owner")).toBe(true);
    expect(seesFailedWebhooks("admin")).toBe(true);
    expect(seesFailedWebhooks("agent")).toBe(false);
    expect(seesFailedWebhooks(undefined)).toBe(false);
  });

  it("shows nothing when nothing failed", () => {
    expect(bannerText([])).toBeNull();
  });

  it("counts the failed events and gives each reason, newest first", () => {
    const text = bannerText([
      failed("e1", "2026-12-04T10:00:00Z"),
      failed("e2", "2026-12-04T11:00:00Z", { provider: "twilio", reason: "invalid_payload: unreadable form" }),
    ])!;
    expect(text.headline).toBe("2 incoming messages could not be processed");
    expect(text.lines).toEqual([
      { id: "e2", text: "SMS (Twilio): invalid_payload: unreadable form" },
      { id: "e1", text: "WhatsApp: customer_exists: the number belongs to another customer" },
    ]);
    // Newest first as instants, not as text (`…:00Z` is the earliest of one second).
    const sameSecond = bannerText([failed("a", "2026-12-04T10:00:00Z"), failed("b", "2026-12-04T10:00:00.7Z"), failed("c", "2026-12-04T10:00:00.65Z")])!;
    expect(sameSecond.lines.map((l) => l.id)).toEqual(["b", "c", "a"]);
    expect(bannerText([failed("e1", "2026-12-04T10:00:00Z", { reason: "" })])!.headline).toBe("1 incoming message could not be processed");
    expect(bannerText([failed("e1", "2026-12-04T10:00:00Z", { reason: "" })])!.lines[0].text).toBe("WhatsApp: no reason was given");
  });

  it("lists the newest few but counts them all", () => {
    const many = Array.from({ length: 8 }, (_, i) => failed(`e${i}`, `2026-12-04T1${i}:00:00Z`));
    const text = bannerText(many, 3)!;
    expect(text.headline).toBe("8 incoming messages could not be processed");
    expect(text.lines.map((l) => l.id)).toEqual(["e7", "e6", "e5"]);
  });

  it("drops a retried event and names unknown providers as they are", () => {
    expect(afterRetry([failed("e1", "2026-12-04T10:00:00Z"), failed("e2", "2026-12-04T11:00:00Z")], "e1").map((f) => f.id)).toEqual(["e2"]);
    expect(providerName("vapi")).toBe("vapi");
  });
});
