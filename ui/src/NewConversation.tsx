import { useEffect, useState, type FormEvent } from "react";
import { call, ConsoleError } from "./api";
import type { Customer } from "./bindings/Customer";
import type { Directory } from "./bindings/Directory";
import type { WhatsappTemplate } from "./bindings/WhatsappTemplate";
import { fillTemplate } from "./composer";

/** Writes first to a customer — one found by name or number, or a new one (a walk-in, someone
 * who phoned). Both are queued like every other action: they work offline, show at once as
 * pending, and are applied once. On WhatsApp the first message is an approved template. */
export function NewConversation({ directory, onStarted, onClose }: { directory: Directory; onStarted: (conversationId: string, customerId: string) => void; onClose: () => void }) {
  const [mode, setMode] = useState<"find" | "new">("find");
  const [text, setText] = useState("");
  const [found, setFound] = useState<Customer[]>([]);
  const [picked, setPicked] = useState<Customer | null>(null);
  const [name, setName] = useState("");
  const [phone, setPhone] = useState("");
  const [channel, setChannel] = useState<"whatsapp" | "sms">("whatsapp");
  const [template, setTemplate] = useState<WhatsappTemplate | null>(null);
  const [variables, setVariables] = useState<string[]>([]);
  const [body, setBody] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (mode !== "find" || !text.trim()) return setFound([]);
    let stale = false;
    call({ cmd: "find_customers", text }).then((c) => { if (!stale) setFound(c); }, () => {});
    return () => { stale = true; };
  }, [mode, text]);

  const ready = (mode === "find" ? picked != null : name.trim() !== "" || phone.trim() !== "") &&
    (channel === "sms" ? body.trim() !== "" : template != null && variables.every((v) => v.trim() !== ""));

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      let customerId = picked?.id ?? null;
      if (mode === "new") {
        const created = await call({ cmd: "create_customer", customer: { name: name.trim() || null, phone: phone.trim() || null, whatsapp_id: null, email: null, tags: [], notes: "" } });
        customerId = created.created_id;
      }
      if (!customerId) throw new Error("Pick a customer.");
      const started = await call({
        cmd: "start_conversation",
        customer_id: customerId,
        channel,
        body: channel === "sms" ? body : null,
        template_id: channel === "whatsapp" ? template?.id ?? null : null,
        variables: channel === "whatsapp" ? variables : [],
      });
      if (started.created_id) onStarted(started.created_id, customerId);
    } catch (err) {
      setError(err instanceof ConsoleError || err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="dialog-backdrop" role="presentation" onMouseDown={(e) => { if (e.target === e.currentTarget) onClose(); }}>
      <form className="dialog" role="dialog" aria-label="New conversation" onSubmit={submit}>
        <h2>New conversation</h2>
        <div className="filters" role="tablist">
          <button type="button" role="tab" aria-selected={mode === "find"} className={mode === "find" ? "chip active" : "chip"} onClick={() => setMode("find")}>A customer</button>
          <button type="button" role="tab" aria-selected={mode === "new"} className={mode === "new" ? "chip active" : "chip"} onClick={() => { setMode("new"); setPicked(null); }}>New customer</button>
        </div>
        {mode === "find" ? (
          <>
            <label>
              Find a customer
              <input type="search" value={text} onChange={(e) => { setText(e.target.value); setPicked(null); }} placeholder="Name or number" autoFocus />
            </label>
            {picked ? <p data-testid="picked">To <strong>{picked.name ?? picked.phone}</strong></p> : (
              <ul className="picker">
                {found.map((c) => <li key={c.id}><button type="button" className="link" onClick={() => setPicked(c)}>{c.name ?? "—"} {c.phone ?? ""}</button></li>)}
              </ul>
            )}
          </>
        ) : (
          <>
            <label>
              Name
              <input name="customer-name" value={name} onChange={(e) => setName(e.target.value)} autoFocus />
            </label>
            <label>
              Phone number
              <input name="customer-phone" type="tel" value={phone} onChange={(e) => setPhone(e.target.value)} placeholder="+44 7911 123456" />
            </label>
          </>
        )}
        <label>
          Channel
          <select aria-label="Channel" value={channel} onChange={(e) => setChannel(e.target.value as "whatsapp" | "sms")}>
            <option value="whatsapp">WhatsApp</option>
            <option value="sms">SMS</option>
          </select>
        </label>
        {channel === "whatsapp" ? (
          <>
            <p className="muted">On WhatsApp the first message to a customer is an approved template.</p>
            <select aria-label="First message template" value={template?.id ?? ""} onChange={(e) => { const t = directory.templates.find((t) => t.id === e.target.value) ?? null; setTemplate(t); setVariables(new Array(t?.variables ?? 0).fill("")); }}>
              <option value="">Choose a template…</option>
              {directory.templates.map((t) => <option key={t.id} value={t.id}>{t.name}</option>)}
            </select>
            {template ? (
              <>
                {variables.map((v, i) => <input key={i} aria-label={`Template value ${i + 1}`} placeholder={`{{${i + 1}}}`} value={v} onChange={(e) => setVariables(variables.map((x, j) => (j === i ? e.target.value : x)))} />)}
                <p className="preview">{fillTemplate(template.body, variables)}</p>
              </>
            ) : null}
          </>
        ) : (
          <label>
            First message
            <textarea value={body} onChange={(e) => setBody(e.target.value)} rows={3} />
          </label>
        )}
        {error ? <p className="error" role="alert">{error}</p> : null}
        <div className="dialog-actions">
          <button type="button" onClick={onClose}>Cancel</button>
          <button type="submit" className="primary" disabled={!ready || busy}>Start conversation</button>
        </div>
      </form>
    </div>
  );
}
