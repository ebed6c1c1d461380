// Files in the timeline and the composer: how a file is shown (picture, PDF, player, link), the
// address the console core answers it at, and reading a chosen file for `attach`. The bytes come
// from the console core (`media`), which keeps what was seen for viewing offline.
import type { Message } from "./bindings/Message";
import type { MediaData } from "./bindings/MediaData";
import type { MediaThumbnail } from "./bindings/MediaThumbnail";

export type Shown = "image" | "pdf" | "audio" | "video" | "file";

/** How a file of this type is shown inline. */
export function shownAs(contentType: string): Shown {
  const type = contentType.split(";")[0].trim().toLowerCase();
  if (type === "application/pdf") return "pdf";
  if (type.startsWith("image/")) return "image";
  if (type.startsWith("audio/")) return "audio";
  if (type.startsWith("video/")) return "video";
  return "file";
}

export interface Shownfile {
  /** The message that shows it (the file's address names it: see `fileAddress`). */
  messageId: string;
  path: string;
  contentType: string;
  filename: string | null;
  caption: string | null;
}

/** The files a message shows: its media with an address, or a call's recording (played from
 * `/v1/calls/{id}/recording`, which the service fetches from the voice platform once and keeps). */
export function filesOf(m: Message): Shownfile[] {
  if (m.kind === "call") {
    return m.call?.recording_url ? [{ messageId: m.id, path: `/v1/calls/${m.id}/recording`, contentType: "audio/*", filename: "Call recording", caption: null }] : [];
  }
  return m.media.filter((f) => f.url && f.url.startsWith("/v1/")).map((f) => ({ messageId: m.id, path: f.url as string, contentType: f.content_type, filename: f.filename, caption: f.caption }));
}

/** What a message says in the inbox-style text line when it has files and no words. */
export function placeholder(m: Message): string {
  if (m.body) return m.body;
  if (!m.media.length) return "";
  return { image: "Photo", pdf: "PDF", audio: "Voice note", video: "Video", file: "File" }[shownAs(m.media[0].content_type)];
}

export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

/** The bytes the core answered (a file or a picture's small copy), as a Blob for an object URL. */
export function toBlob(data: MediaData | MediaThumbnail): Blob {
  const binary = atob(data.data_base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return new Blob([bytes], { type: data.content_type });
}

/** A chosen file as base64 (what `attach` takes). */
export function toBase64(bytes: Uint8Array): string {
  let binary = "";
  const chunk = 0x8000;
  for (let i = 0; i < bytes.length; i += chunk) binary += String.fromCharCode(...bytes.subarray(i, i + chunk));
  return btoa(binary);
}

/** The file's type as the browser knows it, else from its name (some systems give none). */
export function typeOf(name: string, given: string): string {
  if (given) return given;
  const ext = name.toLowerCase().split(".").pop() ?? "";
  const known: Record<string, string> = {
    jpg: "image/jpeg", jpeg: "image/jpeg", png: "image/png", gif: "image/gif", pdf: "application/pdf",
    mp3: "audio/mpeg", ogg: "audio/ogg", m4a: "audio/mp4", aac: "audio/aac", mp4: "video/mp4", txt: "text/plain",
    doc: "application/msword", docx: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
  };
  return known[ext] ?? "application/octet-stream";
}

/** Whether the timeline shows this file from its address (`fileAddress`, a picture's small copy
 * that the web engine fetches and decodes itself, off the page's main thread, as it scrolls into
 * view) rather than from the `media` command's answer (players, PDFs, links, and the full picture
 * once opened, which the page keeps as an object URL for saving). */
export function byAddress(file: Pick<Shownfile, "contentType">): boolean {
  return shownAs(file.contentType) === "image";
}
