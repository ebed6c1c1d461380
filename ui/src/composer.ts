// The reply box: `/` opens canned responses, and what it says before anyone types. What may be
// sent (free text, or only a WhatsApp template) is not decided here: the service ships it with the
// conversation (`Timeline.reply_window`), the same rule it refuses replies by.
import type { CannedResponse } from "./bindings/CannedResponse";
import type { Handler } from "./bindings/Handler";
import type { ReplyWindow } from "./bindings/ReplyWindow";

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

/** What the composer tells the person before they type. */
export function composerHint(handler: Handler, window: ReplyWindow): { canReply: boolean; hint: string } {
  if (!window.free_text && !window.templates) return { canReply: false, hint: "Replies cannot be sent in this conversation — notes only" };
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

/** Why only a template can be sent now, in words (the window is the service's). */
export function templateReason(window: ReplyWindow): string {
  if (!window.until) return "The customer has not written on WhatsApp yet: only an approved template can be sent.";
  const closed = new Date(window.until).toLocaleString("en-GB", { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
  return `WhatsApp's reply window closed on ${closed}: only an approved template can be sent now.`;
}

/** Fills a template's {{1}}, {{2}}… placeholders for the preview. */
export function fillTemplate(body: string, variables: string[]): string {
  return body.replace(/\{\{(\d+)\}\}/g, (whole, n) => variables[Number(n) - 1] || whole);
}
