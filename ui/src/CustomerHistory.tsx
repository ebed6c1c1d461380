import { useEffect, useState } from "react";
import { call } from "./api";
import type { CustomerEvent } from "./bindings/CustomerEvent";
import type { CustomerTimeline } from "./bindings/CustomerTimeline";
import { bookingLine, channelLabel, listTime } from "./format";

function eventKey(e: CustomerEvent): string {
  return e.type === "message" ? e.message.id : e.type === "note" ? e.note.id : `booking-${e.booking.id}`;
}

function Entry({ e, onOpen }: { e: CustomerEvent; onOpen: (conversationId: string) => void }) {
  if (e.type === "booking") {
    return (
      <li className="event booking" data-testid="history-booking">
        {bookingLine(e.booking, e.service_name, e.staff_name)} · {listTime(e.booking.created_at)}
      </li>
    );
  }
  if (e.type === "note") {
    return (
      <li className="note" data-testid="history-note">
        <div className="meta">Note · {channelLabel(e.channel)} · {e.author_name ?? "Staff"} · {listTime(e.note.created_at)}{e.local ? " · waiting to send" : ""}</div>
        <div className="body">{e.note.body}</div>
      </li>
    );
  }
  const m = e.message;
  if (m.kind === "event") return <li className="event" data-testid="history-event">{channelLabel(e.channel)}: {m.body} · {listTime(m.created_at)}</li>;
  const who = m.author_kind === "customer" ? "Customer" : m.author_kind === "assistant" ? "Assistant" : m.author_kind === "staff" ? e.author_name ?? "Staff" : "Switchboard";
  return (
    <li className={`msg ${m.direction} ${m.author_kind}`} data-testid="history-message" data-channel={e.channel}>
      <div className="meta">
        <button className="link" onClick={() => onOpen(m.conversation_id)} title="Open this conversation">{channelLabel(e.channel)}</button> · {who} · {listTime(m.created_at)}
        {m.automation ? " · automatic" : ""}
        {e.local ? " · waiting to send" : ""}
      </div>
      {m.kind === "call" && m.call ? (
        <div className="call"><strong>Phone call</strong>{m.call.summary ? <p className="summary">{m.call.summary}</p> : null}</div>
      ) : (
        <div className="body">{m.body || (m.media.length ? `[${m.kind}]` : "")}</div>
      )}
      {e.opt ? <div className="opt" data-testid="history-opt">{e.opt === "out" ? `Opted out of ${channelLabel(e.channel)}` : `Opted back in to ${channelLabel(e.channel)}`}</div> : null}
    </li>
  );
}

/** One customer's whole history: every channel's conversations, calls, notes and bookings in one
 * timeline, from the console's mirror (so it opens offline). */
export function CustomerHistory({ customerId, version, onClose, onOpen }: { customerId: string; version: number; onClose: () => void; onOpen: (conversationId: string) => void }) {
  const [history, setHistory] = useState<CustomerTimeline | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    call({ cmd: "customer_timeline", customer_id: customerId, limit: null }).then(setHistory, (e) => setError(e.message));
  }, [customerId, version]);
  if (!history) return <section className="conversation">{error ?? "Loading…"}</section>;
  const c = history.customer;
  const channels = [...new Set(history.conversations.map((x) => channelLabel(x.channel)))];
  return (
    <section className="conversation" aria-label="Customer history">
      <header className="conv-head">
        <div>
          <h2>{c.name || c.phone || "Customer"} — everything</h2>
          <div className="muted">{channels.length ? channels.join(" · ") : "No conversations yet"} · {history.conversations.length} conversation{history.conversations.length === 1 ? "" : "s"}</div>
        </div>
        <div className="actions"><button onClick={onClose}>Back to the conversation</button></div>
      </header>
      <ol className="timeline" data-testid="customer-history">
        {history.more ? <li className="event muted">Older history is not shown.</li> : null}
        {history.items.map((e) => <Entry key={eventKey(e)} e={e} onOpen={onOpen} />)}
      </ol>
    </section>
  );
}
