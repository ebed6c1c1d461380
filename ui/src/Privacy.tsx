// Data protection in the console: a customer's export (a ZIP saved here) and erasure, from the
// customer panel, for owners and admins; Settings → Retention with its dry run. Export and erase
// ask for the password (or a code) again first; offline they say that needs the network.
import { useEffect, useState, type FormEvent } from "react";
import { call, ConsoleError } from "./api";
import type { RetentionPreview } from "./bindings/RetentionPreview";
import { base64Bytes, erasedSummary, eraseConfirmed, formatBytes, parseRetention, saveFile, savedNote, securityMessage } from "./privacy";
import { useSensitive } from "./Reauth";

type Note = { ok: boolean; text: string } | null;

export function CustomerPrivacy({ customerId, name, onErased }: { customerId: string; name: string; onErased: () => void }) {
  const [run, dialog] = useSensitive();
  const [note, setNote] = useState<Note>(null);
  const [erasing, setErasing] = useState(false);

  const exportZip = async () => {
    setNote(null);
    const result = await run("Exporting a customer's data", () => call({ cmd: "export_customer", who: { customer_id: customerId, phone: null, email: null } }));
    if (result.ok) {
      const { file_name, zip_base64, bytes } = result.value;
      setNote({ ok: true, text: `Saving ${file_name}…` });
      setNote(savedNote(file_name, await saveFile(file_name, base64Bytes(zip_base64), "application/zip"), formatBytes(bytes)));
    } else if (!result.cancelled) setNote({ ok: false, text: result.message });
  };

  const erase = async () => {
    setErasing(false);
    const result = await run(`Erasing ${name}`, () => call({ cmd: "erase_customer", customer_id: customerId }));
    if (result.ok) {
      setNote({ ok: true, text: erasedSummary(result.value as Record<string, number>) });
      onErased();
    } else if (!result.cancelled) setNote({ ok: false, text: result.message });
  };

  return (
    <div className="customer-privacy" aria-label="Data protection">
      <div className="privacy-actions">
        <button onClick={exportZip}>Export data</button>
        <button className="danger" onClick={() => setErasing(true)}>Erase…</button>
      </div>
      {note ? <p className={note.ok ? "ok-note" : "error"} role={note.ok ? "status" : "alert"} data-testid="privacy-note">{note.text}</p> : null}
      {erasing ? <EraseDialog name={name} onCancel={() => setErasing(false)} onConfirm={erase} /> : null}
      {dialog}
    </div>
  );
}

function EraseDialog({ name, onCancel, onConfirm }: { name: string; onCancel: () => void; onConfirm: () => void }) {
  const [typed, setTyped] = useState("");
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (eraseConfirmed(typed)) onConfirm();
  };
  return (
    <div className="modal-backdrop">
      <form className="modal" role="dialog" aria-label="Erase customer" onSubmit={submit}>
        <h3>Erase {name}?</h3>
        <p>This removes everything held about them, on the service and on every console: their conversations, messages, calls and transcripts, notes and media. Pending messages and automations are cancelled. Bookings stay only as anonymised rows for the accounts; future ones are cancelled.</p>
        <p><strong>This cannot be undone.</strong> Export their data first if they asked for a copy.</p>
        <label>
          Type ERASE to confirm
          <input name="erase-confirm" value={typed} onChange={(e) => setTyped(e.target.value)} autoFocus autoComplete="off" />
        </label>
        <div className="modal-actions">
          <button type="button" onClick={onCancel}>Cancel</button>
          <button type="submit" className="danger" disabled={!eraseConfirmed(typed)}>Erase for good</button>
        </div>
      </form>
    </div>
  );
}

export function RetentionSettings() {
  const [months, setMonths] = useState("");
  const [days, setDays] = useState("");
  const [loaded, setLoaded] = useState(false);
  const [note, setNote] = useState<Note>(null);
  const [preview, setPreview] = useState<RetentionPreview | null>(null);
  useEffect(() => {
    call({ cmd: "retention" }).then(
      (p) => {
        setMonths(p.conversations_months?.toString() ?? "");
        setDays(p.recordings_days?.toString() ?? "");
        setLoaded(true);
      },
      (e: ConsoleError) => setNote({ ok: false, text: e.kind === "offline" ? "Settings need the connection to the service." : e.message }),
    );
  }, []);
  const parsed = parseRetention(months, days);
  const save = async (e: FormEvent) => {
    e.preventDefault();
    if ("error" in parsed) return;
    try {
      await call({ cmd: "set_retention", policy: parsed.policy });
      setPreview(null);
      setNote({ ok: true, text: "Saved. The retention job applies it once a day." });
    } catch (err) {
      setNote({ ok: false, text: securityMessage(err) });
    }
  };
  const dryRun = async () => {
    try {
      setPreview(await call({ cmd: "retention_dry_run" }));
    } catch (err) {
      setNote({ ok: false, text: securityMessage(err) });
    }
  };
  if (!loaded) return note ? <p className="error">{note.text}</p> : <p className="muted">Loading…</p>;
  return (
    <form className="settings-panel stack-form" onSubmit={save} aria-label="Retention">
      <h2>Retention</h2>
      <p className="muted">How long the business keeps what customers said. Empty: for ever. A job applies it every day; a dry run shows exactly what it would delete now.</p>
      <label>Delete conversations with no activity for <input name="retention-months" inputMode="numeric" size={5} value={months} onChange={(e) => setMonths(e.target.value)} /> months</label>
      <label>Delete call recordings and transcripts after <input name="retention-days" inputMode="numeric" size={5} value={days} onChange={(e) => setDays(e.target.value)} /> days</label>
      {"error" in parsed ? <p className="error">{parsed.error}</p> : null}
      <div className="privacy-actions">
        <button type="submit" className="primary" disabled={"error" in parsed}>Save</button>
        <button type="button" onClick={dryRun}>Dry run (saved policy)</button>
      </div>
      {note ? <p className={note.ok ? "ok-note" : "error"} role={note.ok ? "status" : "alert"}>{note.text}</p> : null}
      {preview ? (
        <div data-testid="retention-preview">
          <p>
            {preview.plan.conversation_ids.length} conversation{preview.plan.conversation_ids.length === 1 ? "" : "s"} and {preview.plan.recording_message_ids.length} call recording{preview.plan.recording_message_ids.length === 1 ? "" : "s"} would be deleted now.
          </p>
          <ul className="plain">
            {preview.conversations.map((c) => (
              <li key={c.conversation_id}>{c.customer ?? "A conversation not on this computer"} · {c.channel ?? ""} · last active {c.last_activity_at?.slice(0, 10) ?? "?"}</li>
            ))}
          </ul>
        </div>
      ) : null}
    </form>
  );
}
