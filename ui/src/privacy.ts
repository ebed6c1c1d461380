// The logic behind account security and data protection in the console, apart from the screens
// so Vitest can hold it: asking for the password (or a code) again before a sensitive action,
// the words for what went wrong, saving an export, the retention form and the erase summary.
import { ConsoleError, whenFileSaved, type FileSaved } from "./api";
import type { RetentionPolicy } from "./bindings/RetentionPolicy";

/** What the person typed to prove it is still them: their password, or a current code from
 * their authenticator app (when two-factor sign-in is on). */
export type Proof = { password: string } | { code: string };

/** Sentences for the refusals a sensitive action can meet. */
export function securityMessage(e: unknown): string {
  if (e instanceof ConsoleError) {
    if (e.kind === "offline") return "A re-authentication needs the network: connect and try again.";
    switch (e.code) {
      case "invalid_credentials":
        return "That password is not right.";
      case "invalid_code":
        return "That password or code is not right (a code works once: wait for the next one).";
      case "reauthentication_required":
        return "Please confirm it is you again.";
      case "forbidden":
        return "Only an owner or an admin can do that.";
      case "two_factor_already_enabled":
        return "Two-factor sign-in is already on.";
      case "two_factor_not_enabled":
        return "Two-factor sign-in is not on.";
    }
    return e.message;
  }
  return (e as Error)?.message ?? String(e);
}

export interface SensitiveSteps<T> {
  /** Asks the person for their password or code; `null` when they cancel. */
  ask: () => Promise<Proof | null>;
  /** Sends the proof to the service (`reauthenticate`). */
  reauthenticate: (proof: Proof) => Promise<unknown>;
  /** The action itself. */
  action: () => Promise<T>;
}

export type SensitiveResult<T> = { ok: true; value: T } | { ok: false; cancelled: boolean; message: string };

/** A sensitive action (export, erase, two-factor changes, a colleague's reset, the require
 * switch): the password or a code is asked again first, sent to the service, then the action
 * runs. A wrong answer is asked again (up to three times); offline, nothing is asked twice — a
 * re-authentication needs the network, and the result says so. */
export async function sensitive<T>(steps: SensitiveSteps<T>): Promise<SensitiveResult<T>> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const proof = await steps.ask();
    if (!proof) return { ok: false, cancelled: true, message: "" };
    try {
      await steps.reauthenticate(proof);
    } catch (e) {
      const wrong = e instanceof ConsoleError && (e.code === "invalid_credentials" || e.code === "invalid_code");
      if (wrong && attempt < 2) continue;
      return { ok: false, cancelled: false, message: securityMessage(e) };
    }
    try {
      return { ok: true, value: await steps.action() };
    } catch (e) {
      return { ok: false, cancelled: false, message: securityMessage(e) };
    }
  }
  return { ok: false, cancelled: false, message: "Too many wrong answers. Try again later." };
}

/** An action the service guards with a recent re-authentication only sometimes (channel
 * changes: within a few minutes of signing in it just runs): tried first; only when the service
 * answers `reauthentication_required` is the password or a code asked, as [`sensitive`] does. */
export async function sensitiveIfAsked<T>(steps: SensitiveSteps<T>): Promise<SensitiveResult<T>> {
  try {
    return { ok: true, value: await steps.action() };
  } catch (e) {
    if (!(e instanceof ConsoleError && e.code === "reauthentication_required")) return { ok: false, cancelled: false, message: securityMessage(e) };
  }
  return sensitive(steps);
}

/** The bytes of a base64 text (an export's ZIP as the console hands it over). */
export function base64Bytes(text: string): Uint8Array {
  const raw = atob(text);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return bytes;
}

/** Saves bytes as a file the way a browser downloads one (the desktop window does the same); the
 * reports' CSV exports too. Resolves to what the window said of it ({@link whenFileSaved}). */
export function saveFile(fileName: string, bytes: Uint8Array, type: string): Promise<FileSaved | null> {
  const url = URL.createObjectURL(new Blob([bytes as BlobPart], { type }));
  return whenFileSaved(url, () => {
    const a = document.createElement("a");
    a.href = url;
    a.download = fileName;
    document.body.appendChild(a);
    a.click();
    a.remove();
  }).finally(() => setTimeout(() => URL.revokeObjectURL(url), 10_000));
}

/** The note after saving a file: where it went when the desktop window says, else its name (a
 * browser shows its downloads itself); `size` as "12 KB" when there is one. */
export function savedNote(fileName: string, told: FileSaved | null, size?: string): { ok: boolean; text: string } {
  const sized = size ? ` (${size})` : "";
  if (told && !told.saved) return { ok: false, text: `${fileName} could not be saved: check that there is room on the disk and try again.` };
  if (told?.path) return { ok: true, text: `Saved to ${told.path}${sized}.` };
  return { ok: true, text: `Saved ${fileName}${sized}.` };
}

/** A size for people. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** The retention form as typed (empty: keep for ever) → the policy, or what is wrong with it. */
export function parseRetention(months: string, days: string): { policy: RetentionPolicy } | { error: string } {
  const read = (text: string, what: string, max: number): number | null | string => {
    const t = text.trim();
    if (t === "") return null;
    if (!/^\d+$/.test(t)) return `${what}: a whole number, or empty to keep for ever.`;
    const n = Number(t);
    if (n < 1 || n > max) return `${what}: between 1 and ${max}, or empty to keep for ever.`;
    return n;
  };
  const m = read(months, "Conversations", 1200);
  if (typeof m === "string") return { error: m };
  const d = read(days, "Call recordings", 36500);
  if (typeof d === "string") return { error: d };
  return { policy: { conversations_months: m, recordings_days: d } };
}

/** What an erasure removed, in words (`removed`: rows by table, as the service answers). */
export function erasedSummary(removed: Record<string, number>): string {
  const words: [string, string, string][] = [
    ["conversations", "conversation", "conversations"],
    ["messages", "message", "messages"],
    ["notes", "note", "notes"],
    ["media", "media file", "media files"],
    ["bookings_anonymised", "booking kept anonymised", "bookings kept anonymised"],
  ];
  const parts = words.filter(([key]) => (removed[key] ?? 0) > 0).map(([key, one, many]) => `${removed[key]} ${removed[key] === 1 ? one : many}`);
  return parts.length ? `Erased: ${parts.join(", ")}.` : "Erased.";
}

/** The erase dialog's safeguard: the word typed must be ERASE (any case). */
export function eraseConfirmed(typed: string): boolean {
  return typed.trim().toUpperCase() === "ERASE";
}
