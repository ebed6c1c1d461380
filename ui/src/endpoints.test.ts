// The settings lists walk the service's pages: every list answers `{items, next_cursor}`.
import { beforeEach, describe, expect, it, vi } from "vitest";

const calls: unknown[] = [];
const pages: Record<string, { items: string[]; next_cursor: string | null }> = {
  "/v1/services?limit=200": { items: ["a", "b"], next_cursor: "c1" },
  "/v1/services?limit=200&cursor=c1": { items: ["c", "d"], next_cursor: "c%2" },
  "/v1/services?limit=200&cursor=c%252": { items: ["e"], next_cursor: null },
};

vi.mock("./api", () => ({
  call: async (command: { cmd: string; method: string; path: string }) => {
    calls.push(command);
    const page = pages[command.path];
    if (!page) throw new Error(`unexpected ${command.path}`);
    return page;
  },
}));

import { CHANNEL_KINDS, isChannelKind, listAll } from "./endpoints";

describe("listAll", () => {
  beforeEach(() => {
    calls.length = 0;
  });

  it("follows next_cursor to the last page, in order", async () => {
    expect(await listAll<string>("/v1/services")).toEqual(["a", "b", "c", "d", "e"]);
    expect(calls).toHaveLength(3);
    expect(calls.every((c) => (c as { cmd: string; method: string }).cmd === "settings" && (c as { method: string }).method === "get")).toBe(true);
  });
});

describe("channels", () => {
  it("every kind can be read and disconnected", () => {
    expect([...CHANNEL_KINDS]).toEqual(["whatsapp", "twilio", "vapi", "retell"]);
    expect(CHANNEL_KINDS.every(isChannelKind)).toBe(true);
    expect(isChannelKind("telegram")).toBe(false);
  });
});
