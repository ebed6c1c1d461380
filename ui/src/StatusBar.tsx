import { useEffect, useState } from "react";
import { call } from "./api";
import type { OutboxEntry } from "./bindings/OutboxEntry";
import type { Status } from "./bindings/Status";
import { outboxLabel, syncLabel } from "./format";
import { describeMutation } from "./outbox";

/** Always visible: online / offline / syncing, and what is waiting or failed, with a retry. */
export function StatusBar({ status, version }: { status: Status | null; version: number }) {
  const [open, setOpen] = useState(false);
  const [entries, setEntries] = useState<OutboxEntry[]>([]);
  const sync = syncLabel(status);
  const outbox = outboxLabel(status);

  useEffect(() => {
    if (open) call({ cmd: "outbox" }).then(setEntries, () => {});
  }, [open, version, status?.pending, status?.failed]);

  return (
    <div className="status">
      <span className={`sync ${sync.tone}`} data-testid="sync-state" role="status">
        <span className="dot" /> {sync.text}
      </span>
      {outbox ? (
        <button className={status && Number(status.failed) > 0 ? "outbox failed" : "outbox"} data-testid="outbox" onClick={() => setOpen(!open)}>
          {outbox}
        </button>
      ) : null}
      {sync.tone === "off" ? <button className="link" onClick={() => call({ cmd: "sync_now" }).catch(() => {})}>Try now</button> : null}
      {open && entries.length ? (
        <div className="popover" role="dialog" aria-label="Waiting and failed actions">
          {entries.map((e) => (
            <div key={e.id} className={`outbox-entry ${e.state}`}>
              <div>{describeMutation(e)}</div>
              {e.state === "failed" ? (
                <>
                  <div className="error">{e.message}</div>
                  <button onClick={() => call({ cmd: "retry", mutation_id: e.id })}>Retry</button>
                  <button className="link" onClick={() => call({ cmd: "discard", mutation_id: e.id })}>Discard</button>
                </>
              ) : (
                <div className="muted">Waiting to send</div>
              )}
            </div>
          ))}
        </div>
      ) : null}
    </div>
  );
}
