import { describe, expect, it } from "vitest";
import type { Message } from "./bindings/Message";
import { fileAddress } from "./api";
import { byAddress, filesOf, formatSize, placeholder, shownAs, toBase64, toBlob, typeOf } from "./media";
import { describeMutation } from "./outbox";

const message = (over: Partial<Message>): Message => ({
  id: "m1", business_id: "b", conversation_id: "c", direction: "inbound", author_kind: "customer", author_staff_id: null,
  kind: "text", body: "", media: [], provider_message_id: null, delivery_status: "received", error: null,
  created_at: "2026-12-04T10:00:00Z", updated_at: "2026-12-04T10:00:00Z", ...over,
});

describe("files in the timeline", () => {
  it("shows pictures, PDFs and players inline, anything else as a link", () => {
    expect(shownAs("image/jpeg")).toBe("image");
    expect(shownAs("Application/PDF; charset=binary")).toBe("pdf");
    expect(shownAs("audio/ogg; codecs=opus")).toBe("audio");
    expect(shownAs("video/mp4")).toBe("video");
    expect(shownAs("application/zip")).toBe("file");
  });

  it("plays a call's recording from the service's address for it", () => {
    const call = message({ id: "call-1", kind: "call", call: { provider: "vapi", call_id: "x", status: "ended", transcript: null, summary: null, recording_url: "https://storage.vapi.ai/x.wav", duration_seconds: 30, ended_reason: null } });
    expect(filesOf(call)).toEqual([{ messageId: "call-1", path: "/v1/calls/call-1/recording", contentType: "audio/*", filename: "Call recording", caption: null }]);
    expect(filesOf(message({ kind: "call", call: { provider: "vapi", call_id: "x", status: "ended", transcript: null, summary: null, recording_url: null, duration_seconds: null, ended_reason: null } }))).toEqual([]);
  });

  it("lists a message's kept files and skips those that could not be fetched", () => {
    const m = message({ kind: "image", media: [
      { content_type: "image/jpeg", url: "/v1/media/abc", filename: null, caption: "Like this?" },
      { content_type: "image/jpeg", url: null, filename: null, caption: null },
    ] });
    expect(filesOf(m).map((f) => f.path)).toEqual(["/v1/media/abc"]);
  });

  it("names a file without words instead of [image]", () => {
    expect(placeholder(message({ kind: "audio", media: [{ content_type: "audio/ogg", url: "/v1/media/a", filename: null, caption: null }] }))).toBe("Voice note");
    expect(placeholder(message({ kind: "image", body: "My hair now", media: [{ content_type: "image/jpeg", url: "/v1/media/a", filename: null, caption: null }] }))).toBe("My hair now");
  });

  it("reads a chosen file and gives back the same bytes", async () => {
    const bytes = new Uint8Array([0, 1, 2, 250, 255, 80, 78, 71]);
    const b64 = toBase64(bytes);
    const blob = toBlob({ content_type: "image/png", filename: null, data_base64: b64, size: bytes.length });
    expect(blob.type).toBe("image/png");
    expect(new Uint8Array(await blob.arrayBuffer())).toEqual(bytes);
    expect(toBase64(new Uint8Array(100_000).fill(7)).length).toBe(133_336);
  });

  it("knows a file's type from its name when the system gives none", () => {
    expect(typeOf("Price list.PDF", "")).toBe("application/pdf");
    expect(typeOf("x.png", "image/webp")).toBe("image/webp");
    expect(typeOf("archive.7z", "")).toBe("application/octet-stream");
    expect(formatSize(5 * 1024 * 1024)).toBe("5.0 MB");
  });

  it("names a waiting attachment in the outbox", () => {
    expect(describeMutation({ name: "send_media", args: { conversation_id: "c", message_id: "m", media_id: "f", caption: "Our prices" } })).toBe("File “Our prices”");
  });

  it("loads a picture's small copy by its address and other files through the core", () => {
    expect(byAddress({ contentType: "image/jpeg" })).toBe(true);
    expect(byAddress({ contentType: "image/webp" })).toBe(true);
    expect(byAddress({ contentType: "application/pdf" })).toBe(false);
    expect(byAddress({ contentType: "audio/*" })).toBe(false);
    // In a browser, the UI bridge's address beside the page; each part kept to itself.
    expect(fileAddress("small", "m1", "/v1/media/abc")).toBe("media/small/m1/v1/media/abc");
    expect(fileAddress("file", "m/1", "/v1/media/a?b")).toBe("media/file/m%2F1/v1/media/a%3Fb");
  });
});
