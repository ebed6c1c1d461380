// The failed-webhooks banner's logic: webhooks the service acknowledged but could not process
// (kept with their reason until someone retries them; `GET /v1/webhook-events/failed`). Only
// owners and admins see them; the service refuses the list to anyone else.
import { byInstant } from "./format";
import type { FailedWebhook } from "./bindings/FailedWebhook";

/** Whether this person is shown the banner (and the console asks the service at all); `role` as
 * the console's account has it (`owner`, `admin`, `agent`). */
export function seesFailedWebhooks(role: string | undefined): boolean {
  return role === "owner" || role === "admin";
}

const PROVIDERS: Record<string, string> = { whatsapp: "WhatsApp", twilio: "SMS (Twilio)", twilio_status: "Twilio delivery report" };

/** What a provider is called for people. */
export function providerName(provider: string): string {
  return PROVIDERS[provider] ?? provider;
}

export interface BannerText {
  /** "2 incoming messages could not be processed" */
  headline: string;
  /** One line per failed event, newest first: the provider and the service's reason. */
  lines: { id: string; text: string }[];
}

/** The banner's words, or null when there is nothing to show. */
export function bannerText(failed: FailedWebhook[], shown = 5): BannerText | null {
  if (failed.length === 0) return null;
  const newestFirst = [...failed].sort((a, b) => byInstant(b.failed_at, a.failed_at));
  const n = failed.length;
  const headline = `${n} incoming ${n === 1 ? "message" : "messages"} could not be processed`;
  const lines = newestFirst.slice(0, shown).map((f) => ({ id: f.id, text: `${providerName(f.provider)}: ${f.reason || "no reason was given"}` }));
  return { headline, lines };
}

/** What is left to show after one was retried (it is back in the queue; the service lists it
 * again if it fails again). */
export function afterRetry(failed: FailedWebhook[], id: string): FailedWebhook[] {
  return failed.filter((f) => f.id !== id);
}
