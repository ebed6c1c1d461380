import { useEffect, useMemo, useRef, useState, type FormEvent, type KeyboardEvent } from "react";
import { call, ConsoleError } from "./api";
import type { Directory } from "./bindings/Directory";
import type { LocalState } from "./bindings/LocalState";
import type { PresenceEntry } from "./bindings/PresenceEntry";
import type { Timeline } from "./bindings/Timeline";
import type { TimelineItem } from "./bindings/TimelineItem";
import type { WhatsappTemplate } from "./bindings/WhatsappTemplate";
import { composerHint, fillTemplate, matchCanned, slashQuery, templateReason } from "./composer";
import { runLines, type RunLine } from "./automations";
import { channelLabel, deliveryMark, handlerLabel, listTime } from "./format";
import { WordsEditor } from "./Words";
import { MediaView } from "./MediaView";
import { filesOf, placeholder, toBase64, typeOf } from "./media";

interface Props {
  conversationId: string;
  me: string;
  version: number;
  directory: Directory;
  presence: PresenceEntry[];
  typing: { conversationId: string; staffId: string; at: number } | null;
}

function LocalBadge({ local, onRetry, onDiscard }: { local: LocalState | null; onRetry: () => void; onDiscard: () => void }) {
  if (!local) return null;
  if (local.state === "pending") return <span className="local pending" data-testid="pending">Waiting to send…</span>;
  return (
    <span className="local refused" data-testid="refused" role="alert">
      Not sent: {local.reason} <button onClick={onRetry}>Retry</button> <button className="link" onClick={onDiscard}>Discard</button>
    </span>
  );
}

function Item({ item, onRetry, onDiscard }: { item: TimelineItem; onRetry: (id: number) => void; onDiscard: (id: number) => void }) {
  const local = item.local;
  const retry = () => local && onRetry(local.mutation_id);
  const discard = () => local && onDiscard(local.mutation_id);
  if (item.type === "note") {
    return (
      <li className="note" data-testid="note">
        <div className="meta">Note · {item.author_name ?? "Staff"} · {listTime(item.note.created_at)}</div>
        <div className="body">{item.note.body}</div>
        <LocalBadge local={local} onRetry={retry} onDiscard={discard} />
      </li>
    );
  }
  const m = item.message;
  if (m.kind === "event") {
    return <li className="event" data-testid="event">{m.body} · {listTime(m.created_at)}</li>;
  }
  const who = m.author_kind === "customer" ? "Customer" : m.author_kind === "assistant" ? "Assistant" : m.author_kind === "staff" ? item.author_name ?? "Staff" : "Switchboard";
  const mark = m.direction === "outbound" ? deliveryMark(m.delivery_status) : null;
  return (
    <li className={`msg ${m.direction} ${m.author_kind}`} data-testid="message" data-message={m.id}>
      <div className="meta">{who} · {listTime(m.created_at)}</div>
      {m.kind === "call" && m.call ? (
        <div className="call">
          <strong>Phone call</strong>
          {m.call.duration_seconds ? ` · ${Math.round(m.call.duration_seconds / 60)} min` : ""}
          {m.call.summary ? <p className="summary">{m.call.summary}</p> : null}
          {m.call.transcript ? (
            <details>
              <summary>Transcript</summary>
              <pre>{m.call.transcript}</pre>
            </details>
          ) : null}
        </div>
      ) : (
        <div className="body">{placeholder(m)}</div>
      )}
      {filesOf(m).map((f) => <MediaView key={f.path} file={f} />)}
      {mark && mark.mark && !local ? (
        <span className={`ticks ${m.delivery_status}`} title={mark.words} aria-label={mark.words} data-testid="ticks">{mark.mark}</span>
      ) : null}
      {m.error ? <div className="error">{m.error}</div> : null}
      <LocalBadge local={local} onRetry={retry} onDiscard={discard} />
    </li>
  );
}

/** What Switchboard sent or plans to send by itself in this conversation (and for its customer):
 * each message's rule, where it stands, and why it was not sent or what stops it. Read from the
 * service when the panel opens and as the conversation changes; it needs the connection. */
function AutomationHistory({ conversationId, version }: { conversationId: string; version: number }) {
  const [lines, setLines] = useState<RunLine[] | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    call({ cmd: "conversation_automations", conversation_id: conversationId }).then(
      (runs) => {
        if (!live) return;
        setLines(runLines(runs));
        setProblem(null);
      },
      (e) => live && setProblem(e instanceof ConsoleError && e.kind === "offline" ? "The automation history needs the connection to the service." : String(e.message ?? e)),
    );
    return () => {
      live = false;
    };
  }, [conversationId, version]);
  if (problem && !lines) return <p className="muted automations-history">{problem}</p>;
  if (!lines || lines.length === 0) return null;
  return (
    <details className="automations-history" data-testid="automation-history">
      <summary>Automated messages ({lines.length})</summary>
      <ul className="plain">
        {lines.map((l) => (
          <li key={l.id} data-testid="automation-run" data-status={l.status}>
            <strong>{l.rule}</strong> · <span className={`badge ${l.status}`}>{l.state}</span> · {listTime(l.at)}
            {l.detail ? <div className="muted">{l.detail}</div> : null}
          </li>
        ))}
      </ul>
    </details>
  );
}

export function ConversationView({ conversationId, me, version, directory, presence, typing }: Props) {
  const [timeline, setTimeline] = useState<Timeline | null>(null);
  const [text, setText] = useState("");
  const [asNote, setAsNote] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [template, setTemplate] = useState<WhatsappTemplate | null>(null);
  const [variables, setVariables] = useState<string[]>([]);
  const bottom = useRef<HTMLDivElement>(null);
  const fileInput = useRef<HTMLInputElement>(null);
  const lastTyping = useRef(0);

  const [tick, setTick] = useState(0);
  useEffect(() => {
    call({ cmd: "timeline", conversation_id: conversationId }).then(setTimeline, (e) => setError(e.message));
  }, [conversationId, version, tick]);

  // The service's reply window closes on its own: ask again when it does.
  const closesAt = timeline?.reply_window.free_text && timeline.reply_window.until ? Date.parse(timeline.reply_window.until) : null;
  useEffect(() => {
    if (closesAt === null) return;
    const handle = setTimeout(() => setTick((t) => t + 1), Math.min(Math.max(closesAt - Date.now() + 1000, 0), 2 ** 31 - 1));
    return () => clearTimeout(handle);
  }, [closesAt]);

  useEffect(() => {
    if (timeline && timeline.conversation.unread_count > 0) call({ cmd: "mark_read", conversation_id: conversationId }).catch(() => {});
  }, [timeline?.conversation.unread_count, conversationId]);

  useEffect(() => {
    // Braces matter: newer engines return a promise from scrollIntoView, and an effect may only return a clean-up function.
    bottom.current?.scrollIntoView({ block: "end" });
  }, [timeline?.items.length]);

  const staffName = (id: string) => directory.staff.find((s) => s.id === id)?.name ?? "A colleague";
  const othersHere = presence.filter((p) => p.viewing === conversationId && p.staff_id !== me).map((p) => staffName(p.staff_id));
  const typingNow = typing && typing.conversationId === conversationId && typing.staffId !== me && Date.now() - typing.at < 6000 ? staffName(typing.staffId) : null;

  const slash = slashQuery(text);
  const canned = useMemo(() => (slash !== null ? matchCanned(slash, directory.canned_responses) : []), [slash, directory.canned_responses]);

  if (!timeline) return <section className="conversation">{error ?? "Loading…"}</section>;
  const c = timeline.conversation;
  const hint = composerHint(timeline.handler, timeline.reply_window);
  const templateOnly = !timeline.reply_window.free_text && timeline.reply_window.templates;

  const act = async (f: () => Promise<unknown>) => {
    setError(null);
    try {
      await f();
    } catch (e) {
      setError(e instanceof ConsoleError ? e.message : String(e));
    }
  };
  const send = (e?: FormEvent) => {
    e?.preventDefault();
    if (!text.trim()) return;
    const body = text;
    setText("");
    act(() => call(asNote ? { cmd: "add_note", conversation_id: c.id, body } : { cmd: "send_message", conversation_id: c.id, body }));
  };
  const onComposerKey = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      if (canned.length) {
        sendCanned(canned[0].id);
        return;
      }
      send();
      return;
    }
    if (Date.now() - lastTyping.current > 3000) {
      lastTyping.current = Date.now();
      call({ cmd: "typing", conversation_id: c.id }).catch(() => {});
    }
  };
  // A chosen file goes with what is in the reply box as its caption.
  const attach = async (chosen: File | undefined) => {
    if (!chosen) return;
    const caption = asNote ? "" : text;
    await act(async () => {
      const data = toBase64(new Uint8Array(await chosen.arrayBuffer()));
      await call({ cmd: "attach", conversation_id: c.id, filename: chosen.name, content_type: typeOf(chosen.name, chosen.type), data_base64: data, caption });
      if (caption) setText("");
    });
    if (fileInput.current) fileInput.current.value = "";
  };
  const sendCanned = (id: string) => {
    setText("");
    act(() => call({ cmd: "use_canned_response", conversation_id: c.id, canned_response_id: id }));
  };

  return (
    <section className="conversation" aria-label="Conversation">
      <header className="conv-head">
        <div>
          <h2>{timeline.customer?.name || timeline.customer?.phone || "Customer"}</h2>
          <div className="muted">
            {channelLabel(c.channel)} · <span className={`handler ${timeline.handler.kind}`} data-testid="holder">{timeline.handler.kind === "me" ? "You are handling this" : handlerLabel(timeline.handler)}</span>
            {timeline.control_pending ? <span className="local pending"> (waiting to send)</span> : null}
          </div>
          <WordsEditor words={c.labels} what="label" max={40} onChange={(add, remove) => call({ cmd: "label_conversation", conversation_id: c.id, add, remove })} />
          {othersHere.length ? <div className="presence">Also looking: {othersHere.join(", ")}</div> : null}
          {typingNow ? <div className="presence">{typingNow} is typing…</div> : null}
        </div>
        <div className="actions">
          <select
            className="assign"
            aria-label="Assigned to"
            value={c.assignee_staff_id ?? ""}
            onChange={(e) => act(() => call({ cmd: "assign", conversation_id: c.id, staff_id: e.target.value || null }))}
          >
            <option value="">Not assigned</option>
            {directory.staff.map((s) => <option key={s.id} value={s.id}>{s.id === me ? `${s.name} (you)` : s.name}</option>)}
            {c.assignee_staff_id && !directory.staff.some((s) => s.id === c.assignee_staff_id) ? <option value={c.assignee_staff_id}>A former colleague</option> : null}
          </select>
          {timeline.handler.kind === "me" ? (
            <button onClick={() => act(() => call({ cmd: "hand_back", conversation_id: c.id }))}>Hand back to assistant</button>
          ) : timeline.handler.kind !== "colleague" ? (
            <button className="primary" onClick={() => act(() => call({ cmd: "take_over", conversation_id: c.id }))}>Take over</button>
          ) : null}
          {c.status === "open" ? (
            <button className="link" onClick={() => act(() => call({ cmd: "set_status", conversation_id: c.id, status: "resolved" }))}>Resolve</button>
          ) : (
            <button className="link" onClick={() => act(() => call({ cmd: "set_status", conversation_id: c.id, status: "open" }))}>Reopen</button>
          )}
        </div>
      </header>
      <AutomationHistory conversationId={c.id} version={version} />
      <ol className="timeline">
        {timeline.items.map((item) => (
          <Item
            key={item.type === "note" ? item.note.id : item.message.id}
            item={item}
            onRetry={(id) => act(() => call({ cmd: "retry", mutation_id: id }))}
            onDiscard={(id) => act(() => call({ cmd: "discard", mutation_id: id }))}
          />
        ))}
        <div ref={bottom} />
      </ol>
      {error ? <p className="error" role="alert">{error}</p> : null}
      {templateOnly && !asNote ? (
        <div className="templates">
          <p className="muted" data-testid="template-only">{templateReason(timeline.reply_window)}</p>
          <select aria-label="Template" value={template?.id ?? ""} onChange={(e) => { const t = directory.templates.find((t) => t.id === e.target.value) ?? null; setTemplate(t); setVariables(new Array(t?.variables ?? 0).fill("")); }}>
            <option value="">Choose a template…</option>
            {directory.templates.map((t) => <option key={t.id} value={t.id}>{t.name}</option>)}
          </select>
          {template ? (
            <>
              {variables.map((v, i) => <input key={i} placeholder={`{{${i + 1}}}`} value={v} onChange={(e) => setVariables(variables.map((x, j) => (j === i ? e.target.value : x)))} />)}
              <p className="preview">{fillTemplate(template.body, variables)}</p>
              <button className="primary" disabled={variables.some((v) => !v.trim())} onClick={() => act(() => call({ cmd: "send_template", conversation_id: c.id, template_id: template.id, variables }))}>Send template</button>
            </>
          ) : null}
          <button className="link" onClick={() => setAsNote(true)}>Write an internal note instead</button>
        </div>
      ) : (
        <form className={asNote ? "composer note-mode" : "composer"} onSubmit={send}>
          {canned.length ? (
            <ul className="canned" role="listbox" aria-label="Canned responses">
              {canned.map((r) => (
                <li key={r.id} role="option" aria-selected={false} onMouseDown={(e) => { e.preventDefault(); sendCanned(r.id); }}>
                  <strong>/{r.shortcut}</strong> {r.title}
                </li>
              ))}
            </ul>
          ) : null}
          <textarea
            aria-label={asNote ? "Internal note" : "Reply"}
            placeholder={asNote ? "Internal note — only staff see this" : hint.hint + "  (type / for canned responses)"}
            value={text}
            disabled={!hint.canReply && !asNote}
            onChange={(e) => setText(e.target.value)}
            onKeyDown={onComposerKey}
            rows={3}
          />
          <div className="composer-actions">
            <label className="muted"><input type="checkbox" checked={asNote} onChange={(e) => setAsNote(e.target.checked)} /> Internal note</label>
            {!asNote ? (
              <>
                <input ref={fileInput} type="file" hidden data-testid="attach-input" aria-label="File to attach" onChange={(e) => attach(e.target.files?.[0])} />
                <button type="button" className="link" disabled={!hint.canReply} onClick={() => fileInput.current?.click()}>Attach a file</button>
              </>
            ) : null}
            <button type="submit" className="primary" disabled={!text.trim() || (!hint.canReply && !asNote)}>{asNote ? "Add note" : "Send"}</button>
          </div>
        </form>
      )}
    </section>
  );
}
