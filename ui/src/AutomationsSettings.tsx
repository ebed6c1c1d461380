// Settings → Automations (owners and admins): confirmations, reminder rules and quiet hours, the
// texts with their variables and a live preview by the service (with example details or a real
// booking), follow-ups, missed-call text-back, and which approved WhatsApp template stands in for
// each kind of message outside the 24-hour window. Checked here first (automations.ts says what
// the service would refuse); what the service still refuses is said in the editor's words.
import { useEffect, useMemo, useState, type FormEvent } from "react";
import { addDays } from "date-fns";
import { call, ConsoleError } from "./api";
import {
  addRule,
  automationProblems,
  changedSettings,
  offsetLabel,
  refusal,
  splitOffset,
  TEMPLATE_KINDS,
  TEXTS,
  UNIT_MINUTES,
  unknownVariables,
  VARIABLES,
  withOffset,
  type Unit,
} from "./automations";
import type { AutomationSettings } from "./bindings/AutomationSettings";
import type { AutomationTexts } from "./bindings/AutomationTexts";
import type { CalendarEntry } from "./bindings/CalendarEntry";
import type { TemplateMapping } from "./bindings/TemplateMapping";
import type { QuickReply } from "./bindings/QuickReply";
import type { TemplateVariable } from "./bindings/TemplateVariable";
import type { WhatsappTemplate } from "./bindings/WhatsappTemplate";
import * as endpoints from "./endpoints";

export function AutomationsSettings() {
  const [saved, setSaved] = useState<AutomationSettings | null>(null);
  const [draft, setDraft] = useState<AutomationSettings | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [note, setNote] = useState<{ ok: boolean; text: string } | null>(null);
  const [templates, setTemplates] = useState<WhatsappTemplate[]>([]);
  const [bookings, setBookings] = useState<CalendarEntry[]>([]);

  useEffect(() => {
    endpoints.automations.get().then(
      (s) => {
        setSaved(s);
        setDraft(s);
      },
      (e: ConsoleError) => setLoadError(e.kind === "offline" ? "Settings need the connection to the service." : refusal(e.code, e.message)),
    );
    // Approved templates and upcoming bookings come from the console's mirror.
    call({ cmd: "directory" }).then((d) => setTemplates(d.templates), () => {});
    const now = new Date();
    call({ cmd: "calendar", from: now.toISOString(), to: addDays(now, 14).toISOString() }).then((b) => setBookings(b.filter((e) => e.booking.status !== "cancelled")), () => {});
  }, []);

  if (loadError) return <p className="error">{loadError}</p>;
  if (!draft || !saved) return <p className="muted">Loading…</p>;
  const problems = automationProblems(draft);
  const set = (changes: Partial<AutomationSettings>) => {
    setDraft({ ...draft, ...changes });
    setNote(null);
  };

  const save = async (e: FormEvent) => {
    e.preventDefault();
    const changes = changedSettings(saved, draft);
    if (Object.keys(changes).length === 0) return setNote({ ok: true, text: "Nothing changed." });
    try {
      const s = await endpoints.automations.update(changes);
      setSaved(s);
      setDraft(s);
      setNote({ ok: true, text: "Saved." });
    } catch (err) {
      const c = err as ConsoleError;
      setNote({ ok: false, text: c.kind === "offline" ? "Not saved: the service cannot be reached." : refusal(c.code, c.message) });
    }
  };

  return (
    <form className="settings-panel stack-form" onSubmit={save} aria-label="Automations">
      <h2>Automations</h2>
      <p className="muted">What Switchboard sends customers by itself after they book. Opted-out customers get nothing.</p>

      <label className="check"><input type="checkbox" checked={draft.confirmations} onChange={(e) => set({ confirmations: e.target.checked })} /> Send a confirmation when a booking is made, moved or cancelled</label>

      <h3>Reminders</h3>
      <label className="check"><input type="checkbox" checked={draft.reminders} onChange={(e) => set({ reminders: e.target.checked })} /> Remind customers before their appointment (they can reply C, R or X)</label>
      <ul className="plain" data-testid="reminder-rules">
        {draft.reminder_rules.map((r, i) => {
          const { amount, unit } = splitOffset(r.minutes_before);
          const change = (a: number, u: Unit) => set({ reminder_rules: withOffset(draft.reminder_rules, i, Math.round(a * UNIT_MINUTES[u])) });
          return (
            <li key={i} className="inline-form">
              <input type="number" min={1} aria-label={`Reminder ${i + 1} amount`} value={Number.isFinite(amount) ? amount : ""} onChange={(e) => change(Number(e.target.value), unit)} style={{ width: 70 }} />
              <select aria-label={`Reminder ${i + 1} unit`} value={unit} onChange={(e) => change(amount, e.target.value as Unit)}>
                <option value="minutes">minutes</option>
                <option value="hours">hours</option>
                <option value="days">days</option>
              </select>
              <span className="muted">{offsetLabel(r.minutes_before)}</span>
              <button type="button" className="link" onClick={() => set({ reminder_rules: draft.reminder_rules.filter((_, j) => j !== i) })}>Remove</button>
            </li>
          );
        })}
      </ul>
      {draft.reminder_rules.length < 5 ? <button type="button" className="link" onClick={() => set({ reminder_rules: addRule(draft.reminder_rules) })}>Add a reminder</button> : null}
      <p className="muted">A whole number of days keeps the local time across clock changes. A booking made inside a reminder's window gets the nearest sensible one.</p>

      <h3>Quiet hours</h3>
      <div className="inline-form">
        <label className="check"><input type="checkbox" checked={draft.quiet_hours !== null} onChange={(e) => set({ quiet_hours: e.target.checked ? { start: "21:00", end: "08:00" } : null })} /> Send nothing between</label>
        {draft.quiet_hours ? (
          <>
            <input type="time" aria-label="Quiet from" value={draft.quiet_hours.start} onChange={(e) => set({ quiet_hours: { ...draft.quiet_hours!, start: e.target.value } })} />
            and
            <input type="time" aria-label="Quiet until" value={draft.quiet_hours.end} onChange={(e) => set({ quiet_hours: { ...draft.quiet_hours!, end: e.target.value } })} />
            <span className="muted">(the business's local time)</span>
          </>
        ) : null}
      </div>

      <h3>Follow-ups, missed calls and no-shows</h3>
      <label className="check"><input type="checkbox" checked={draft.follow_ups} onChange={(e) => set({ follow_ups: e.target.checked })} /> Follow up with customers who asked about booking and went quiet</label>
      {draft.follow_ups ? (
        <ul className="plain">
          {draft.follow_up_steps.map((f, i) => (
            <li key={i} className="inline-form">
              Step {i + 1}:
              <input type="number" min={1} aria-label={`Follow-up ${i + 1} hours`} value={f.delay_minutes / 60} onChange={(e) => set({ follow_up_steps: draft.follow_up_steps.map((x, j) => (j === i ? { delay_minutes: Math.round(Number(e.target.value) * 60) } : x)) })} style={{ width: 70 }} />
              hours after the last message
              <button type="button" className="link" onClick={() => set({ follow_up_steps: draft.follow_up_steps.filter((_, j) => j !== i) })}>Remove</button>
            </li>
          ))}
          {draft.follow_up_steps.length < 5 ? <li><button type="button" className="link" onClick={() => set({ follow_up_steps: [...draft.follow_up_steps, { delay_minutes: 24 * 60 }] })}>Add a step</button></li> : null}
        </ul>
      ) : null}
      <label className="check"><input type="checkbox" checked={draft.missed_call_text_back} onChange={(e) => set({ missed_call_text_back: e.target.checked })} /> Text callers nobody answered (at most once in 12 hours)</label>
      <label className="check"><input type="checkbox" checked={draft.no_show_rebooking} onChange={(e) => set({ no_show_rebooking: e.target.checked })} /> Invite customers marked a no-show to book again (once per booking)</label>

      <Texts texts={draft.texts} bookings={bookings} onChange={(texts) => set({ texts })} />

      <Templates mapping={draft.whatsapp_templates} templates={templates} onChange={(whatsapp_templates) => set({ whatsapp_templates })} />

      {problems.length ? (
        <ul className="plain" data-testid="automation-problems">
          {problems.map((p, i) => <li key={i} className="error">{p.field}: {p.message}</li>)}
        </ul>
      ) : null}
      <button type="submit" className="primary" disabled={problems.length > 0}>Save automations</button>
      {note ? <p className={note.ok ? "ok-note" : "error"} role={note.ok ? "status" : "alert"}>{note.text}</p> : null}
    </form>
  );
}

/** One text at a time, its variables a click away, and the service's preview of it as sent. */
function Texts({ texts, bookings, onChange }: { texts: AutomationTexts; bookings: CalendarEntry[]; onChange: (t: AutomationTexts) => void }) {
  const [which, setWhich] = useState<keyof AutomationTexts>("reminder");
  const [bookingId, setBookingId] = useState("");
  const [preview, setPreview] = useState<{ ok: boolean; text: string } | null>(null);
  const text = texts[which];
  const label = TEXTS.find((t) => t.key === which)!.label;
  const unknown = useMemo(() => unknownVariables(text), [text]);

  // The preview follows the text as it is typed (a moment after the last key).
  useEffect(() => {
    if (unknown.length) return setPreview({ ok: false, text: `Unknown ${unknown.map((u) => `{${u}}`).join(", ")}: use one of the variables below.` });
    const handle = setTimeout(() => {
      endpoints.automations.preview({ text, booking_id: bookingId || null }).then(
        (p) => setPreview({ ok: true, text: p.body }),
        (e: ConsoleError) => setPreview({ ok: false, text: e.kind === "offline" ? "The preview needs the connection." : refusal(e.code, e.message) }),
      );
    }, 250);
    return () => clearTimeout(handle);
  }, [text, bookingId, unknown]);

  return (
    <>
      <h3>Texts</h3>
      <div className="inline-form">
        <select aria-label="Text to edit" value={which} onChange={(e) => setWhich(e.target.value as keyof AutomationTexts)}>
          {TEXTS.map((t) => <option key={t.key} value={t.key}>{t.label}</option>)}
        </select>
        <select aria-label="Preview with" value={bookingId} onChange={(e) => setBookingId(e.target.value)}>
          <option value="">Example details</option>
          {bookings.slice(0, 30).map((b) => (
            <option key={b.booking.id} value={b.booking.id}>{b.customer_name} · {b.booking.local_start.slice(0, 16).replace("T", " ")}</option>
          ))}
        </select>
      </div>
      <textarea aria-label={label} rows={4} value={text} onChange={(e) => onChange({ ...texts, [which]: e.target.value })} />
      <div className="inline-form">
        {VARIABLES.map((v) => (
          <button type="button" key={v.name} className="chip" title={v.means} onClick={() => onChange({ ...texts, [which]: `${text}{${v.name}}` })}>{`{${v.name}}`}</button>
        ))}
      </div>
      <div className="automation-preview" data-testid="automation-preview" aria-live="polite">
        <span className="muted">As sent: </span>
        <span className={preview?.ok === false ? "error" : ""}>{preview?.text ?? "…"}</span>
      </div>
    </>
  );
}

const TEMPLATE_VARIABLES = VARIABLES.map((v) => v.name);
const QUICK_REPLIES: QuickReply[] = ["confirm", "reschedule", "cancel"];

/** Which approved template each kind of message uses outside WhatsApp's 24-hour window, and what
 * fills its {{1}}, {{2}}… Without one such a message is not sent (its run says why). */
function Templates({ mapping, templates, onChange }: { mapping: AutomationSettings["whatsapp_templates"]; templates: WhatsappTemplate[]; onChange: (m: AutomationSettings["whatsapp_templates"]) => void }) {
  const choose = (kind: keyof typeof mapping, name: string) => {
    if (!name) return onChange({ ...mapping, [kind]: null });
    const t = templates.find((x) => x.name === name);
    const old = mapping[kind];
    const count = t?.variables ?? old?.variables.length ?? 0;
    const variables: TemplateVariable[] = Array.from({ length: count }, (_, i) => old?.variables[i] ?? TEMPLATE_VARIABLES[i] ?? "customer_name");
    const m: TemplateMapping = { template_name: name, language: t?.language ?? old?.language ?? "en", variables, quick_replies: old?.quick_replies ?? [] };
    onChange({ ...mapping, [kind]: m });
  };
  return (
    <>
      <h3>WhatsApp templates</h3>
      <p className="muted">Outside WhatsApp's 24-hour window a message can only go as an approved template. Without one, that message is not sent.</p>
      <table className="list" data-testid="template-mapping">
        <tbody>
          {TEMPLATE_KINDS.map(({ key, label }) => {
            const m = mapping[key];
            const names = [...new Set([...templates.map((t) => t.name), ...(m ? [m.template_name] : [])])];
            return (
              <tr key={key}>
                <th>{label}</th>
                <td>
                  <select aria-label={`Template for ${label.toLowerCase()}`} value={m?.template_name ?? ""} onChange={(e) => choose(key, e.target.value)}>
                    <option value="">None (not sent outside the window)</option>
                    {names.map((n) => <option key={n} value={n}>{n}</option>)}
                  </select>
                </td>
                <td className="inline-form">
                  {m?.variables.map((v, i) => (
                    <label key={i}>
                      {`{{${i + 1}}}`}{" "}
                      <select aria-label={`${label} template value ${i + 1}`} value={v} onChange={(e) => onChange({ ...mapping, [key]: { ...m, variables: m.variables.map((x, j) => (j === i ? (e.target.value as TemplateVariable) : x)) } })}>
                        {TEMPLATE_VARIABLES.map((name) => <option key={name} value={name}>{name}</option>)}
                      </select>
                    </label>
                  ))}
                  {m && key === "reminder" ? (
                    <label>
                      <input
                        type="checkbox"
                        checked={m.quick_replies.length > 0}
                        onChange={(e) => onChange({ ...mapping, [key]: { ...m, quick_replies: e.target.checked ? QUICK_REPLIES : [] } })}
                      />{" "}
                      Its buttons are Confirm · Reschedule · Cancel (in that order): a tap works as C, R or X
                    </label>
                  ) : null}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {templates.length === 0 ? <p className="muted">No approved templates have been recorded yet.</p> : null}
    </>
  );
}
