// The one way the UI talks to the console core: `call(command)` and `listen(handler)`.
// In the desktop window these go over Tauri's IPC (`invoke("console", {command})`, event
// "console"); in a browser (development, the end-to-end run) over the UI bridge that
// `switchboard-console serve-ui` runs on loopback (`POST /invoke`, server-sent `/events`).
// Both reach the same `Desk::dispatch` in Rust, with the same generated types.
import type { Command } from "./bindings/Command";
import type { DeskError } from "./bindings/DeskError";
import type { Event } from "./bindings/Event";

export type { Command, DeskError, Event };

declare global {
  interface Window {
    __TAURI_INTERNALS__?: unknown;
  }
}

export class ConsoleError extends Error {
  kind: string;
  constructor(e: DeskError) {
    super(e.message);
    this.kind = e.kind;
  }
}

function asDeskError(e: unknown): DeskError {
  if (e && typeof e === "object" && "kind" in e && "message" in e) return e as DeskError;
  return { kind: "offline", message: "The console is not responding. Restart Switchboard if this lasts." };
}

const inTauri = typeof window !== "undefined" && window.__TAURI_INTERNALS__ !== undefined;

export async function call<T>(command: Command): Promise<T> {
  if (inTauri) {
    const { invoke } = await import("@tauri-apps/api/core");
    try {
      return await invoke<T>("console", { command });
    } catch (e) {
      throw new ConsoleError(asDeskError(e));
    }
  }
  let response: Response;
  try {
    response = await fetch("invoke", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(command) });
  } catch (e) {
    throw new ConsoleError(asDeskError(e));
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new ConsoleError(asDeskError(body));
  return body as T;
}

/** Subscribes to the console's events; returns the unsubscribe function. */
export function listen(handler: (event: Event) => void): () => void {
  if (inTauri) return tauriListen<Event[]>("console", (batch) => batch.forEach(handler));
  const source = new EventSource("events");
  source.onmessage = (m) => (JSON.parse(m.data) as Event[]).forEach(handler);
  return () => source.close();
}

function tauriListen<T>(name: string, handler: (payload: T) => void): () => void {
  let stop: (() => void) | null = null;
  let stopped = false;
  import("@tauri-apps/api/event").then(({ listen }) =>
    listen<T>(name, (e) => handler(e.payload)).then((unlisten) => {
      if (stopped) unlisten();
      else stop = unlisten;
    }),
  );
  return () => {
    stopped = true;
    stop?.();
  };
}

/** A notification was clicked in the desktop app: open this conversation. (No-op in a browser.) */
export function onOpenConversation(handler: (conversationId: string) => void): () => void {
  return inTauri ? tauriListen<string>("open_conversation", handler) : () => {};
}
