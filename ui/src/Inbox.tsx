import { useEffect, useRef, useState, type KeyboardEvent } from "react";
import { useVirtualizer } from "@tanstack/react-virtual";
import { call } from "./api";
import type { InboxFilter } from "./bindings/InboxFilter";
import type { InboxItem } from "./bindings/InboxItem";
import { channelLabel, handlerLabel, initials, listTime, waitingFor, waitTone } from "./format";
import { moveSelection } from "./keys";

const FILTERS: { value: InboxFilter; label: string }[] = [
  { value: "all", label: "All" },
  { value: "needs_human", label: "Needs a person" },
  { value: "mine", label: "Mine" },
  { value: "assistant", label: "Assistant" },
  { value: "resolved", label: "Resolved" },
];

const ROW_HEIGHT = 68;
/** Waiting times are counted from synced data on this computer, so they move on offline too. */
const WAIT_TICK_MS = 15_000;
const PAGE = 200;

export function Inbox({ version, waitTarget, selected, onOpen, onNew }: { version: number; waitTarget: number; selected: string | null; onOpen: (id: string, customerId: string) => void; onNew: () => void }) {
  const [filter, setFilter] = useState<InboxFilter>("all");
  const [search, setSearch] = useState("");
  const [label, setLabel] = useState("");
  const [labels, setLabels] = useState<string[]>([]);
  const [now, setNow] = useState(() => new Date());
  useEffect(() => {
    const handle = setInterval(() => setNow(new Date()), WAIT_TICK_MS);
    return () => clearInterval(handle);
  }, []);
  useEffect(() => {
    call({ cmd: "labels" }).then(setLabels, () => {});
  }, [version]);
  const [items, setItems] = useState<InboxItem[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [cursor, setCursor] = useState(0);
  const scroller = useRef<HTMLDivElement>(null);
  const loadingMore = useRef(false);

  // The first page reloads on every change and every keystroke (a search over 100k messages takes
  // a few milliseconds: no pause while typing); further pages load as the list scrolls.
  useEffect(() => {
    let stale = false;
    const handle = setTimeout(async () => {
      try {
        const page = await call({ cmd: "inbox", query: { filter, search: search.trim() || null, label: label || null, limit: PAGE, after: null } });
        if (!stale) {
          setItems(page.items);
          setNext(page.next);
        }
      } catch {
        /* the status bar says why */
      }
    }, 0);
    return () => {
      stale = true;
      clearTimeout(handle);
    };
  }, [filter, search, label, version]);

  const virtual = useVirtualizer({ count: items.length, getScrollElement: () => scroller.current, estimateSize: () => ROW_HEIGHT, overscan: 8 });
  const visible = virtual.getVirtualItems();
  const last = visible.length ? visible[visible.length - 1].index : 0;
  useEffect(() => {
    if (!next || loadingMore.current || last < items.length - 20) return;
    loadingMore.current = true;
    call({ cmd: "inbox", query: { filter, search: search.trim() || null, label: label || null, limit: PAGE, after: next } })
      .then((page) => {
        setItems((old) => [...old, ...page.items]);
        setNext(page.next);
      })
      .finally(() => (loadingMore.current = false));
  }, [last, next, items.length, filter, search, label]);

  const onKey = (e: KeyboardEvent) => {
    if ((e.target as HTMLElement).tagName === "INPUT" && !["ArrowDown", "ArrowUp", "Enter"].includes(e.key)) return;
    if (e.key === "Enter") {
      const item = items[cursor];
      if (item) onOpen(item.conversation.id, item.conversation.customer_id);
      e.preventDefault();
      return;
    }
    const moved = moveSelection(cursor, e.key, items.length);
    if (moved !== cursor) {
      setCursor(moved);
      virtual.scrollToIndex(moved);
      e.preventDefault();
    }
  };

  return (
    <section className="inbox" onKeyDown={onKey} aria-label="Inbox">
      <div className="inbox-tools">
        <button className="primary new-conversation" onClick={onNew}>New conversation</button>
        <input type="search" placeholder="Search names, numbers, messages" aria-label="Search" value={search} onChange={(e) => setSearch(e.target.value)} />
        {labels.length || label ? (
          <select aria-label="Label" value={label} onChange={(e) => { setLabel(e.target.value); setCursor(0); }}>
            <option value="">Any label</option>
            {(labels.includes(label) || !label ? labels : [label, ...labels]).map((l) => <option key={l} value={l}>{l}</option>)}
          </select>
        ) : null}
        <div className="filters" role="tablist">
          {FILTERS.map((f) => (
            <button key={f.value} role="tab" aria-selected={filter === f.value} className={filter === f.value ? "chip active" : "chip"} onClick={() => { setFilter(f.value); setCursor(0); }}>
              {f.label}
            </button>
          ))}
        </div>
      </div>
      <div className="inbox-list" ref={scroller} tabIndex={0} role="listbox" aria-label="Conversations">
        {items.length === 0 ? <p className="muted pad">{search ? "Nothing matches." : "No conversations here."}</p> : null}
        <div style={{ height: virtual.getTotalSize(), position: "relative" }}>
          {visible.map((row) => {
            const item = items[row.index];
            const c = item.conversation;
            return (
              <div
                key={c.id}
                role="option"
                aria-selected={c.id === selected}
                data-testid="inbox-row"
                data-conversation={c.id}
                className={["inbox-row", c.id === selected ? "selected" : "", row.index === cursor ? "cursor" : "", item.handler.kind === "needs_human" ? "urgent" : ""].join(" ")}
                style={{ position: "absolute", top: 0, left: 0, right: 0, height: ROW_HEIGHT, transform: `translateY(${row.start}px)` }}
                onClick={() => { setCursor(row.index); onOpen(c.id, c.customer_id); }}
              >
                <span className="avatar">{initials(item.customer_name)}</span>
                <div className="row-main">
                  <div className="row-top">
                    <span className="name">{item.customer_name}</span>
                    <span className="time">{listTime(c.last_activity_at)}</span>
                  </div>
                  <div className="row-bottom">
                    <span className="preview">{c.last_message_preview}</span>
                    {c.unread_count > 0 ? <span className="unread" aria-label={`${c.unread_count} unread`}>{c.unread_count}</span> : null}
                  </div>
                  <div className="row-meta">
                    <span className="channel">{channelLabel(c.channel)}</span>
                    <span className={`handler ${item.handler.kind}`} data-testid="handler">{handlerLabel(item.handler)}</span>
                    {item.waiting_since ? (
                      <span className={`waiting ${waitTone(item.waiting_since, waitTarget, now)}`} data-testid="waiting" title={`Waiting since ${listTime(item.waiting_since, now)}; the target is ${waitTarget} min`}>
                        Waiting {waitingFor(item.waiting_since, now)}
                      </span>
                    ) : null}
                    {c.labels.map((l) => <span key={l} className="label" data-testid="label">{l}</span>)}
                    {item.pending ? <span className="pending" title="Waiting to send">●</span> : null}
                  </div>
                </div>
              </div>
            );
          })}
        </div>
      </div>
    </section>
  );
}
