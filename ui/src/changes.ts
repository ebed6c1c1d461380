// Which views must reload after a batch of change events. The console core sends one `changed`
// event per applied page, listing `[entity, id]` pairs; a view reloads only when something it
// shows changed, so a busy inbox does not redraw the open conversation for nothing.
import type { Event } from "./bindings/Event";

export interface Dirty {
  inbox: boolean;
  conversation: boolean;
  customer: boolean;
  calendar: boolean;
  directory: boolean;
  outbox: boolean;
  status: boolean;
  /** Google Calendar: tasks left by outside changes, and connections (reconnect needed). */
  tasks: boolean;
}

export const clean = (): Dirty => ({ inbox: false, conversation: false, customer: false, calendar: false, directory: false, outbox: false, status: false, tasks: false });

export interface Open {
  conversationId: string | null;
  customerId: string | null;
}

export function dirtyFrom(events: Event[], open: Open): Dirty {
  const d = clean();
  for (const e of events) {
    switch (e.type) {
      case "changed":
        if (e.resync) return { inbox: true, conversation: true, customer: true, calendar: true, directory: true, outbox: true, status: true, tasks: true };
        for (const [entity, id] of e.entities) {
          switch (entity) {
            case "conversation":
              d.inbox = true;
              if (id === open.conversationId) d.conversation = true;
              break;
            case "message":
            case "note":
              // Messages carry their conversation inside; the inbox preview comes from the
              // conversation row, which changes with them.
              d.conversation = d.conversation || open.conversationId !== null;
              break;
            case "customer":
              d.inbox = true;
              d.conversation = d.conversation || open.conversationId !== null;
              if (id === open.customerId) d.customer = true;
              break;
            case "booking":
              d.calendar = true;
              d.customer = d.customer || open.customerId !== null;
              break;
            case "calendar_task":
            case "calendar_connection":
              d.tasks = true;
              break;
            case "business":
            case "staff":
            case "service":
            case "canned_response":
            case "whatsapp_template":
              d.directory = true;
              break;
          }
        }
        d.outbox = true;
        break;
      case "outbox":
        d.outbox = true;
        d.inbox = true;
        d.conversation = d.conversation || open.conversationId !== null;
        // A tag added here shows at once on the open customer.
        d.customer = d.customer || open.customerId !== null;
        d.calendar = true;
        break;
      case "status":
        d.status = true;
        break;
      default:
        break;
    }
  }
  return d;
}
