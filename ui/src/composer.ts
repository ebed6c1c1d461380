// The reply box's rules: `/` opens canned responses, WhatsApp's 24-hour window decides between a
// free reply and a template, and who holds the conversation decides whether replying takes over.
import type { CannedResponse } from "./bindings/CannedResponse";
import type { Channel } from "./bindings/Channel";
import type { Handler } from "./bindings/Handler";
import type { TimelineItem } from "./bindings/TimelineItem";

const DAY_MS = 24 * 60 * 60 * 1000;

/** The canned-response search typed after a leading `/`, or null when the text is a reply. */
export function slashQuery(text: string): string | null {
  const m = /^\/(\S*)$/.exec(text);
  return m ? m[1].toLowerCase() : null;
}

/** Canned responses for a `/query`: shortcut prefix matches first, then title matches. */
export function matchCanned(query: string, canned: CannedResponse[], max = 8): CannedResponse[] {
  const q = query.toLowerCase();
  const byShortcut = canned.filter((c) => c.shortcut.toLowerCase().startsWith(q));
  const byTitle = canned.filter((c) => !byShortcut.includes(c) && c.title.toLowerCase().includes(q));
  return [...byShortcut, ...byTitle].slice(0, max);
}

/** When the customer last wrote (WhatsApp allows free replies for 24 hours after that). */
export function lastInboundAt(items: TimelineItem[]): Date | null {
  for (let i = items.length - 1; i >= 0; i--) {
    const item = items[i];
    if (item.type === "message" && item.message.direction === "inbound" && item.message.kind !== "event") {
      return new Date(item.message.created_at);
    }
  }
  return null;
}

export function isWhatsapp(channel: Channel): boolean {
  return channel === "whatsapp" || channel === "twilio_whatsapp";
}

/** WhatsApp only: the 24-hour window is closed and only an approved template may be sent. */
export function needsTemplate(channel: Channel, items: TimelineItem[], now: Date = new Date()): boolean {
  if (!isWhatsapp(channel)) return false;
  const last = lastInboundAt(items);
  return last === null || now.getTime() - last.getTime() >= DAY_MS;
}

/** What the composer tells the person before they type. */
export function composerHint(handler: Handler): { canReply: boolean; hint: string } {
  switch (handler.kind) {
    case "me":
      return { canReply: true, hint: "Reply to the customer…" };
    case "assistant":
      return { canReply: true, hint: "Replying takes this conversation over from the assistant" };
    case "needs_human":
      return { canReply: true, hint: "The customer is waiting for a person — replying takes it over" };
    case "colleague":
      return { canReply: false, hint: `${handler.name} is handling this conversation` };
  }
}

/** Fills a template's {{1}}, {{2}}… placeholders for the preview. */
export function fillTemplate(body: string, variables: string[]): string {
  return body.replace(/\{\{(\d+)\}\}/g, (whole, n) => variables[Number(n) - 1] || whole);
}
