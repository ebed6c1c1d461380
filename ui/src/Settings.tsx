// Settings for owners and admins: opening hours and exceptions, services, staff and invitations,
// canned responses, the assistant, automations (AutomationsSettings.tsx), channels, Google Calendar (GoogleCalendarSettings.tsx), calendar feeds, the audit log. These change the business for everyone, so they go
// straight to the service (online only; it checks roles) instead of through the offline outbox.
import { useCallback, useEffect, useState, type FormEvent, type ReactNode } from "react";
import { call, ConsoleError } from "./api";
import { filterAudit } from "./audit";
import { AutomationsSettings } from "./AutomationsSettings";
import { GoogleCalendarSettings } from "./GoogleCalendarSettings";
import { RetentionSettings } from "./Privacy";
import { useSensitive } from "./Reauth";
import type { AuditEntry } from "./bindings/AuditEntry";
import type { AssistantSettings } from "./bindings/AssistantSettings";
import type { CreateCannedResponse } from "./bindings/CreateCannedResponse";
import type { CreateInvitation } from "./bindings/CreateInvitation";
import type { CreateScheduleException } from "./bindings/CreateScheduleException";
import type { CreateService } from "./bindings/CreateService";
import type { HoursProblem } from "./bindings/HoursProblem";
import type { Permission } from "./bindings/Permission";
import type { Role } from "./bindings/Role";
import type { UpdateAssistantSettings } from "./bindings/UpdateAssistantSettings";
import type { WeeklyHours } from "./bindings/WeeklyHours";
import * as endpoints from "./endpoints";
import { deactivatedNote, upcomingFor } from "./staff";
import type { ChannelKind, ChannelSetups } from "./endpoints";
import { DAYS, dayName, formatPrice, parsePrice } from "./hours";
import { assignableRoles, settingsTabs, type SettingsTab } from "./permissions";

/** Loads with `get` (one of `endpoints`, so it stays the same function), and gives a reload for
 * after a change. */
function useResource<T>(get: () => Promise<T>): [T | null, () => void, string | null] {
  const [value, setValue] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(() => {
    get().then(
      (v) => {
        setValue(v);
        setError(null);
      },
      (e: ConsoleError) => setError(e.kind === "offline" ? "Settings need the connection to the service." : e.message),
    );
  }, [get]);
  useEffect(() => {
    load();
  }, [load]);
  return [value, load, error];
}

/** Runs a change; shows what went wrong, or a short confirmation. */
function useAction(): [(f: () => Promise<unknown>, done?: string) => Promise<boolean>, ReactNode] {
  const [note, setNote] = useState<{ ok: boolean; text: string } | null>(null);
  const run = async (f: () => Promise<unknown>, done = "Saved.") => {
    try {
      await f();
      setNote({ ok: true, text: done });
      return true;
    } catch (e) {
      setNote({ ok: false, text: (e as Error).message });
      return false;
    }
  };
  return [run, note ? <p className={note.ok ? "ok-note" : "error"} role={note.ok ? "status" : "alert"}>{note.text}</p> : null];
}

const ROLE_LABEL: Record<Role, string> = { owner: "Owner", admin: "Admin", agent: "Front desk" };

/** Only the tabs the service's permissions allow (`permissions.ts`). */
export function Settings({ tasksVersion = 0, permissions }: { tasksVersion?: number; permissions: Permission[] }) {
  const tabs = settingsTabs(permissions);
  const [picked, setTab] = useState<SettingsTab>(tabs[0] ?? "Opening hours");
  const tab = tabs.includes(picked) ? picked : tabs[0];
  return (
    <main className="settings" aria-label="Settings">
      <nav className="settings-tabs">
        {tabs.map((t) => (
          <button key={t} className={t === tab ? "chip active" : "chip"} onClick={() => setTab(t)}>{t}</button>
        ))}
      </nav>
      <section className="settings-body">
        {tab === "Opening hours" && <Hours />}
        {tab === "Services" && <Services />}
        {tab === "Staff" && <StaffSettings permissions={permissions} />}
        {tab === "Canned responses" && <Canned />}
        {tab === "Assistant" && <><Assistant /><WaitTarget /></>}
        {tab === "Automations" && <AutomationsSettings />}
        {tab === "Channels" && <Channels />}
        {tab === "Google Calendar" && <GoogleCalendarSettings tasksVersion={tasksVersion} />}
        {tab === "Calendar feeds" && <CalendarFeeds />}
        {tab === "Retention" && <RetentionSettings />}
        {tab === "Audit log" && <AuditLog />}
      </section>
    </main>
  );
}

export function Hours() {
  const [schedule, reload, error] = useResource(endpoints.schedule.get);
  const [exceptions, reloadExceptions] = useResource(endpoints.scheduleExceptions.list);
  const [week, setWeek] = useState<WeeklyHours | null>(null);
  const [run, note] = useAction();
  const [exception, setException] = useState({ date: "", closed: true, start: "10:00", end: "14:00", note: "" });
  const [problems, setProblems] = useState<HoursProblem[]>([]);
  useEffect(() => setWeek(schedule?.opening_hours ?? null), [schedule]);
  // The service says what is wrong while the owner edits (the same words a save would be refused with).
  useEffect(() => {
    if (!week) return;
    let current = true;
    const handle = setTimeout(() => endpoints.schedule.checkHours(week).then((c) => current && setProblems(c.problems), () => {}), 150);
    return () => {
      current = false;
      clearTimeout(handle);
    };
  }, [week]);
  if (error) return <p className="error">{error}</p>;
  if (!week || !schedule) return <p className="muted">Loading…</p>;
  const setDay = (day: keyof WeeklyHours, intervals: WeeklyHours[keyof WeeklyHours]) => setWeek({ ...week, [day]: intervals });

  const addException = (e: FormEvent) => {
    e.preventDefault();
    const body: CreateScheduleException = { staff_id: null, date: exception.date, closed: exception.closed, hours: exception.closed ? [] : [{ start: exception.start, end: exception.end }], note: exception.note };
    run(() => endpoints.scheduleExceptions.create(body), "Added.").then((ok) => ok && reloadExceptions());
  };

  return (
    <div className="settings-panel">
      <h2>Opening hours</h2>
      <p className="muted">Times in {schedule.timezone}. A day with no hours is closed. The assistant only offers times inside these hours.</p>
      <table className="hours">
        <tbody>
          {DAYS.map((day) => (
            <tr key={day}>
              <th>{dayName(day)}</th>
              <td>
                {week[day].length === 0 ? <span className="muted">Closed</span> : null}
                {week[day].map((interval, i) => (
                  <span key={i} className="interval">
                    <input aria-label={`${dayName(day)} opens`} type="time" value={interval.start} onChange={(e) => setDay(day, week[day].map((x, j) => (j === i ? { ...x, start: e.target.value } : x)))} />
                    –
                    <input aria-label={`${dayName(day)} closes`} type="time" value={interval.end} onChange={(e) => setDay(day, week[day].map((x, j) => (j === i ? { ...x, end: e.target.value } : x)))} />
                    <button className="link" aria-label={`Remove ${dayName(day)} ${interval.start}`} onClick={() => setDay(day, week[day].filter((_, j) => j !== i))}>×</button>
                  </span>
                ))}
                <button className="link" onClick={() => setDay(day, [...week[day], { start: "09:00", end: "17:00" }])}>{week[day].length ? "Add hours" : "Open"}</button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {problems.map((p) => <p key={p.message} className="error" data-testid="hours-problem">{p.message}</p>)}
      <button className="primary" disabled={problems.length > 0} onClick={() => run(() => endpoints.schedule.update({ opening_hours: week })).then((ok) => ok && reload())}>Save opening hours</button>
      {note}

      <h3>Exceptions (holidays, special hours)</h3>
      <ul className="plain">
        {exceptions?.map((x) => (
          <li key={x.id}>
            {x.date} · {x.closed ? "closed" : x.hours.map((h) => `${h.start}–${h.end}`).join(", ")} {x.note ? `· ${x.note}` : ""}{" "}
            <button className="link" onClick={() => run(() => endpoints.scheduleExceptions.remove(x.id), "Removed.").then((ok) => ok && reloadExceptions())}>Remove</button>
          </li>
        ))}
      </ul>
      <form className="inline-form" onSubmit={addException}>
        <input type="date" aria-label="Exception date" required value={exception.date} onChange={(e) => setException({ ...exception, date: e.target.value })} />
        <label><input type="checkbox" checked={exception.closed} onChange={(e) => setException({ ...exception, closed: e.target.checked })} /> Closed all day</label>
        {exception.closed ? null : (
          <>
            <input type="time" aria-label="Exception opens" value={exception.start} onChange={(e) => setException({ ...exception, start: e.target.value })} />
            <input type="time" aria-label="Exception closes" value={exception.end} onChange={(e) => setException({ ...exception, end: e.target.value })} />
          </>
        )}
        <input placeholder="Note (e.g. Bank holiday)" value={exception.note} onChange={(e) => setException({ ...exception, note: e.target.value })} />
        <button type="submit">Add exception</button>
      </form>
    </div>
  );
}

export function Services() {
  const [services, reload, error] = useResource(endpoints.services.list);
  const [run, note] = useAction();
  const [draft, setDraft] = useState({ name: "", duration: "30", price: "" });
  if (error) return <p className="error">{error}</p>;
  const price = parsePrice(draft.price);
  const add = (e: FormEvent) => {
    e.preventDefault();
    const body: CreateService = { name: draft.name.trim(), duration_minutes: Number(draft.duration), price_cents: price ?? 0, buffer_before_minutes: 0, buffer_after_minutes: 0, active: true, staff_ids: [], min_notice_minutes: null, max_advance_days: null, slot_interval_minutes: null };
    run(() => endpoints.services.create(body), "Service added.").then((ok) => {
      if (ok) {
        setDraft({ name: "", duration: "30", price: "" });
        reload();
      }
    });
  };
  return (
    <div className="settings-panel">
      <h2>Services</h2>
      <table className="list">
        <thead><tr><th>Service</th><th>Length</th><th>Price</th><th>Bookable</th><th /></tr></thead>
        <tbody>
          {services?.map((s) => (
            <tr key={s.id}>
              <td>{s.name}</td>
              <td>{s.duration_minutes} min</td>
              <td>{formatPrice(s.price_cents)}</td>
              <td><input type="checkbox" aria-label={`${s.name} bookable`} checked={s.active} onChange={(e) => run(() => endpoints.services.update(s.id, { active: e.target.checked })).then((ok) => ok && reload())} /></td>
              <td><button className="link" onClick={() => run(() => endpoints.services.remove(s.id), "Removed.").then((ok) => ok && reload())}>Remove</button></td>
            </tr>
          ))}
        </tbody>
      </table>
      <form className="inline-form" onSubmit={add}>
        <input placeholder="New service" aria-label="Service name" required value={draft.name} onChange={(e) => setDraft({ ...draft, name: e.target.value })} />
        <input type="number" min={5} step={5} aria-label="Minutes" value={draft.duration} onChange={(e) => setDraft({ ...draft, duration: e.target.value })} /> min
        <input placeholder="Price" aria-label="Price" value={draft.price} onChange={(e) => setDraft({ ...draft, price: e.target.value })} />
        <button type="submit" disabled={!draft.name.trim() || (draft.price !== "" && price === null)}>Add service</button>
      </form>
      {note}
    </div>
  );
}

export function StaffSettings({ permissions }: { permissions: Permission[] }) {
  const roles = assignableRoles(permissions);
  const [staff, reloadStaff, error] = useResource(endpoints.staff.list);
  const [invitations, reloadInvitations] = useResource(endpoints.invitations.list);
  const [run, note] = useAction();
  const [invite, setInvite] = useState<CreateInvitation>({ email: "", role: "agent" });
  const [sensitive, reauthDialog] = useSensitive();
  const [handover, setHandover] = useState<{ name: string; link: string | null } | null>(null);
  if (error) return <p className="error">{error}</p>;
  // A colleague lost their phone or password: their two-factor goes, their sessions end, and a
  // one-time link to choose a new password is mailed (or shown here to hand over).
  const resetSignIn = (id: string, name: string) =>
    run(async () => {
      const result = await sensitive(`Resetting ${name}'s sign-in`, () => call({ cmd: "reset_staff_sign_in", staff_id: id }));
      if (!result.ok) throw new Error(result.cancelled ? "Not reset." : result.message);
      setHandover({ name, link: result.value.link });
    }, `${name}'s sign-in was reset: two-factor is off and their sessions ended.`);
  // Their bookings ahead stay theirs: the note says how many are left to move (from this
  // console's calendar, a year ahead).
  const deactivate = async (id: string, name: string) => {
    const now = new Date();
    const upcoming = await call({ cmd: "calendar", from: now.toISOString(), to: new Date(now.getTime() + 366 * 86_400_000).toISOString() }).then((entries) => upcomingFor(entries, id, now), () => 0);
    if (await run(() => endpoints.staff.deactivate(id), deactivatedNote(name, upcoming))) reloadStaff();
  };
  const send = (e: FormEvent) => {
    e.preventDefault();
    run(() => endpoints.invitations.create(invite), `Invitation sent to ${invite.email}.`).then((ok) => {
      if (ok) {
        setInvite({ email: "", role: "agent" });
        reloadInvitations();
      }
    });
  };
  return (
    <div className="settings-panel">
      <h2>Staff</h2>
      <table className="list">
        <thead><tr><th>Name</th><th>Email</th><th>Role</th><th /></tr></thead>
        <tbody>
          {staff?.map((s) => (
            <tr key={s.id} className={s.active ? "" : "muted"}>
              <td>{s.name}</td>
              <td>{s.email}</td>
              <td>
                {/* A role this person may not give (an owner, for an admin) is shown, not offered. */}
                {roles.includes(s.role) ? (
                  <select aria-label={`${s.name} role`} value={s.role} disabled={!s.active} onChange={(e) => run(() => endpoints.staff.update(s.id, { role: e.target.value as Role })).then((ok) => ok && reloadStaff())}>
                    {roles.map((r) => <option key={r} value={r}>{ROLE_LABEL[r]}</option>)}
                  </select>
                ) : (
                  ROLE_LABEL[s.role]
                )}
              </td>
              <td>
                {s.active ? <button className="link" onClick={() => deactivate(s.id, s.name)}>Deactivate</button> : "Deactivated"}
                {s.active ? <button className="link" onClick={() => resetSignIn(s.id, s.name)}>Reset sign-in</button> : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>Invitations</h3>
      <ul className="plain">
        {invitations?.filter((i) => !i.accepted_at).map((i) => (
          <li key={i.id}>
            {i.email} ({i.role}) · until {i.expires_at.slice(0, 10)}{" "}
            <button className="link" onClick={() => run(() => endpoints.invitations.withdraw(i.id), "Invitation withdrawn.").then((ok) => ok && reloadInvitations())}>Withdraw</button>
          </li>
        ))}
      </ul>
      <form className="inline-form" onSubmit={send}>
        <input type="email" placeholder="colleague@example.com" aria-label="Invite email" required value={invite.email} onChange={(e) => setInvite({ ...invite, email: e.target.value })} />
        <select aria-label="Invite role" value={invite.role} onChange={(e) => setInvite({ ...invite, role: e.target.value as Role })}>
          {[...roles].reverse().map((r) => <option key={r} value={r}>{ROLE_LABEL[r]}</option>)}
        </select>
        <button type="submit">Invite</button>
      </form>
      {note}
      {handover ? (
        <p data-testid="reset-handover">
          {handover.link ? <>Hand this one-time link to {handover.name} (it works once, for an hour): <span className="secret">{handover.link}</span></> : <>A link to choose a new password was mailed to {handover.name}.</>}
        </p>
      ) : null}
      {reauthDialog}
    </div>
  );
}

function Canned() {
  const [canned, reload, error] = useResource(endpoints.cannedResponses.list);
  const [run, note] = useAction();
  const [draft, setDraft] = useState<CreateCannedResponse>({ shortcut: "", title: "", body: "" });
  if (error) return <p className="error">{error}</p>;
  const add = (e: FormEvent) => {
    e.preventDefault();
    run(() => endpoints.cannedResponses.create(draft), "Added.").then((ok) => {
      if (ok) {
        setDraft({ shortcut: "", title: "", body: "" });
        reload();
      }
    });
  };
  return (
    <div className="settings-panel">
      <h2>Canned responses</h2>
      <p className="muted">Type / in a reply to use one.</p>
      <ul className="plain">
        {canned?.map((c) => (
          <li key={c.id}>
            <strong>/{c.shortcut}</strong> {c.title} — <span className="muted">{c.body}</span>{" "}
            <button className="link" onClick={() => run(() => endpoints.cannedResponses.remove(c.id), "Removed.").then((ok) => ok && reload())}>Remove</button>
          </li>
        ))}
      </ul>
      <form className="stack-form" onSubmit={add}>
        <input placeholder="shortcut (e.g. hours)" aria-label="Shortcut" required value={draft.shortcut} onChange={(e) => setDraft({ ...draft, shortcut: e.target.value })} />
        <input placeholder="Title" aria-label="Title" required value={draft.title} onChange={(e) => setDraft({ ...draft, title: e.target.value })} />
        <textarea placeholder="The reply" aria-label="Reply text" required rows={3} value={draft.body} onChange={(e) => setDraft({ ...draft, body: e.target.value })} />
        <button type="submit">Add canned response</button>
      </form>
      {note}
    </div>
  );
}

function Assistant() {
  const [settings, reload, error] = useResource(endpoints.assistant.get);
  const [draft, setDraft] = useState<AssistantSettings | null>(null);
  const [run, note] = useAction();
  useEffect(() => setDraft(settings), [settings]);
  if (error) return <p className="error">{error}</p>;
  if (!draft) return <p className="muted">Loading…</p>;
  const save = (e: FormEvent) => {
    e.preventDefault();
    // Language and model are not edited here: left out, they stay as they are.
    const { enabled, persona, instructions, facts, handback_idle_minutes } = draft;
    const changes: Partial<UpdateAssistantSettings> = { enabled, persona, instructions, facts, handback_idle_minutes };
    run(() => endpoints.assistant.update(changes)).then((ok) => ok && reload());
  };
  return (
    <form className="settings-panel stack-form" onSubmit={save}>
      <h2>Assistant</h2>
      <label><input type="checkbox" checked={draft.enabled} onChange={(e) => setDraft({ ...draft, enabled: e.target.checked })} /> The assistant answers customers (off: every new conversation waits for a person)</label>
      <label>Persona<textarea rows={2} value={draft.persona} onChange={(e) => setDraft({ ...draft, persona: e.target.value })} /></label>
      <label>Instructions<textarea rows={4} value={draft.instructions} onChange={(e) => setDraft({ ...draft, instructions: e.target.value })} /></label>
      <label>What it should know (prices, parking, policies)<textarea rows={4} value={draft.facts} onChange={(e) => setDraft({ ...draft, facts: e.target.value })} /></label>
      <label>Hand a conversation back to the assistant after<input type="number" min={0} value={draft.handback_idle_minutes} onChange={(e) => setDraft({ ...draft, handback_idle_minutes: Number(e.target.value) })} /> minutes without a staff reply (0: never)</label>
      <button type="submit" className="primary">Save</button>
      {note}
    </form>
  );
}

/** How long a customer waiting for a person may wait before the inbox shows it as late. */
function WaitTarget() {
  const [business, reload, error] = useResource(endpoints.business.get);
  const [minutes, setMinutes] = useState("");
  const [run, note] = useAction();
  useEffect(() => setMinutes(business ? String(business.wait_target_minutes) : ""), [business]);
  if (error) return <p className="error">{error}</p>;
  if (!business) return null;
  const value = Number(minutes);
  const valid = Number.isInteger(value) && value >= 1 && value <= 1440;
  const save = (e: FormEvent) => {
    e.preventDefault();
    run(() => endpoints.business.update({ wait_target_minutes: value })).then((ok) => ok && reload());
  };
  return (
    <form className="settings-panel stack-form" onSubmit={save} aria-label="Waiting target">
      <h3>Customers waiting for a person</h3>
      <label>Show a wait as late after<input type="number" min={1} max={1440} aria-label="Waiting target in minutes" value={minutes} onChange={(e) => setMinutes(e.target.value)} /> minutes (amber from half of it)</label>
      <button type="submit" disabled={!valid}>Save waiting target</button>
      {note}
    </form>
  );
}

interface Field {
  key: string;
  label: string;
  secret?: boolean;
  optional?: boolean;
}

/** What connecting a channel asks for (each field's `key` is a field of its setup body), and the
 * setup body made from what was typed (`value` gives a field's text, trimmed). Secrets are typed
 * into password fields and go straight to the service (encrypted there), never into the console's
 * files. */
interface ChannelForm<Setup> {
  fields: (Field & { key: keyof Setup })[];
  setup: (value: (key: keyof Setup & string) => string) => Setup;
}

const CHANNEL_FORMS: { [K in ChannelKind]: ChannelForm<ChannelSetups[K]> } = {
  whatsapp: {
    fields: [
      { key: "phone_number_id", label: "Phone number ID (Meta)" },
      { key: "display_phone_number", label: "Number as customers see it", optional: true },
      { key: "access_token", label: "Access token", secret: true },
      { key: "app_secret", label: "App secret", secret: true },
      { key: "verify_token", label: "Webhook verify token", secret: true },
    ],
    setup: (value) => ({
      phone_number_id: value("phone_number_id"),
      display_phone_number: value("display_phone_number") || null,
      access_token: value("access_token"),
      app_secret: value("app_secret"),
      verify_token: value("verify_token"),
    }),
  },
  twilio: {
    fields: [
      { key: "account_sid", label: "Account SID" },
      { key: "auth_token", label: "Auth token", secret: true },
      { key: "numbers", label: "Numbers (comma-separated, whatsapp:+… for WhatsApp)" },
    ],
    setup: (value) => ({
      account_sid: value("account_sid"),
      auth_token: value("auth_token"),
      numbers: value("numbers").split(",").map((x) => x.trim()).filter(Boolean),
    }),
  },
  vapi: { fields: [{ key: "secret", label: "Vapi secret", secret: true }], setup: (value) => ({ secret: value("secret") }) },
  retell: { fields: [{ key: "api_key", label: "Retell API key", secret: true }], setup: (value) => ({ api_key: value("api_key") }) },
};

/** Connects (or updates) a channel with what was typed into its form. */
function connectChannel<K extends ChannelKind>(kind: K, values: Record<string, string>) {
  const setup = CHANNEL_FORMS[kind].setup((key) => (values[key] ?? "").trim());
  return endpoints.channels.connect(kind, setup);
}

export function Channels() {
  const [channels, reload, error] = useResource(endpoints.channels.list);
  const [run, note] = useAction();
  const [kind, setKind] = useState<ChannelKind | null>(null);
  const [values, setValues] = useState<Record<string, string>>({});
  // Channel changes need a recent sign-in: the password or a code is asked when the service wants it.
  const [sensitive, reauthDialog] = useSensitive();
  if (error) return <p className="error">{error}</p>;
  const list = channels ?? [];
  const guarded = (what: string, action: () => Promise<unknown>) => async () => {
    const result = await sensitive(what, action, true);
    if (!result.ok) throw new Error(result.cancelled ? "Nothing was changed." : result.message);
  };
  const connect = (e: FormEvent) => {
    e.preventDefault();
    if (!kind) return;
    run(guarded(`Connecting ${kind}`, () => connectChannel(kind, values)), "Connected.").then((ok) => {
      if (ok) {
        setKind(null);
        setValues({});
        reload();
      }
    });
  };
  const disconnect = (kind: ChannelKind) => () => run(guarded(`Disconnecting ${kind}`, () => endpoints.channels.disconnect(kind)), "Disconnected.").then((ok) => ok && reload());
  const fields: Field[] = kind ? CHANNEL_FORMS[kind].fields : [];
  return (
    <div className="settings-panel">
      <h2>Channels</h2>
      {list.length === 0 ? <p className="muted">No channel is connected yet.</p> : null}
      <table className="list">
        <tbody>
          {list.map((c) => (
            <tr key={c.kind}>
              <th>{c.kind}</th>
              <td className={c.health === "ok" ? "ok-note" : "error"}>{c.health}</td>
              <td className="muted">{c.last_error ?? (c.last_ok_at ? `working (last ${c.last_ok_at.slice(0, 16).replace("T", " ")})` : "")}</td>
              <td>{endpoints.isChannelKind(c.kind) ? <button className="link" onClick={disconnect(c.kind)}>Disconnect</button> : null}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <div className="inline-form">
        {endpoints.CHANNEL_KINDS.map((k) => (
          <button key={k} onClick={() => { setKind(k); setValues({}); }}>{list.some((c) => c.kind === k) ? `Update ${k}` : `Connect ${k}`}</button>
        ))}
      </div>
      {kind ? (
        <form className="stack-form" onSubmit={connect} aria-label={`Connect ${kind}`}>
          {fields.map((f) => (
            <label key={f.key}>
              {f.label}
              <input type={f.secret ? "password" : "text"} autoComplete="off" required={!f.optional} value={values[f.key] ?? ""} onChange={(e) => setValues({ ...values, [f.key]: e.target.value })} />
            </label>
          ))}
          <button type="submit" className="primary">Save {kind}</button>
        </form>
      ) : null}
      {note}
      {reauthDialog}
    </div>
  );
}

/** Private iCalendar links for Google, Apple or Outlook calendar: the whole business's bookings
 * or one person's. The link holds a secret, so it is shown once, when made; revoking a feed
 * stops it at once. */
function CalendarFeeds() {
  const [feeds, reload, error] = useResource(endpoints.calendarFeeds.list);
  const [staff] = useResource(endpoints.staff.list);
  const [run, note] = useAction();
  const [who, setWho] = useState("");
  const [made, setMade] = useState<string | null>(null);
  if (error) return <p className="error">{error}</p>;
  const name = (id: string | null) => (id ? staff?.find((s) => s.id === id)?.name ?? "Someone" : "Everyone");
  const create = async () => {
    try {
      const created = await endpoints.calendarFeeds.create(who || null);
      setMade(created.url);
      reload();
    } catch {
      run(() => endpoints.calendarFeeds.create(who || null));
    }
  };
  return (
    <div className="settings-panel">
      <h2>Calendar feeds</h2>
      <p className="muted">Subscribe to the bookings from Google, Apple or Outlook calendar ("add calendar from URL").</p>
      <table className="list" data-testid="calendar-feeds">
        <thead><tr><th>Bookings of</th><th>Made</th><th /></tr></thead>
        <tbody>
          {feeds?.map((f) => (
            <tr key={f.id}>
              <td>{name(f.staff_id)}</td>
              <td>{new Date(f.created_at).toLocaleString()}</td>
              <td><button className="link" onClick={() => run(() => endpoints.calendarFeeds.revoke(f.id), "Revoked: the link no longer works.").then((ok) => ok && reload())}>Revoke</button></td>
            </tr>
          ))}
        </tbody>
      </table>
      <div className="inline-form">
        <select aria-label="Feed of" value={who} onChange={(e) => setWho(e.target.value)}>
          <option value="">Everyone's bookings</option>
          {staff?.filter((s) => s.active).map((s) => <option key={s.id} value={s.id}>{s.name}'s bookings</option>)}
        </select>
        <button onClick={create}>Create feed</button>
      </div>
      {made ? (
        <p data-testid="feed-url">Copy this link now (it is shown once): <input readOnly aria-label="Feed link" value={made} onFocus={(e) => e.target.select()} /></p>
      ) : null}
      {note}
    </div>
  );
}

/** Who did what, newest first, for owners and admins: filtered by person and by kind of action
 * over the entries loaded so far ("Load older" fetches more). */
function AuditLog() {
  const [entries, setEntries] = useState<AuditEntry[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [staff] = useResource(endpoints.staff.list);
  const [who, setWho] = useState("");
  const [kind, setKind] = useState("");
  const [text, setText] = useState("");
  const load = async (after: string | null) => {
    try {
      const page = await call({ cmd: "audit_log", cursor: after, limit: 200 });
      setEntries((old) => (after ? [...old, ...page.items] : page.items));
      setCursor(page.next_cursor);
      setError(null);
    } catch (e) {
      setError((e as Error).message);
    }
  };
  useEffect(() => {
    load(null);
  }, []);
  const kinds = [...new Set(entries.map((e) => e.action.split(".")[0]))].sort();
  const shown = filterAudit(entries, { staffId: who || null, kind: kind || null, text });
  const name = (id: string | null) => (id ? staff?.find((s) => s.id === id)?.name ?? "A former colleague" : "Switchboard");
  return (
    <div className="settings-panel">
      <h2>Audit log</h2>
      {error ? <p className="error">{error}</p> : null}
      <div className="inline-form">
        <select aria-label="Who" value={who} onChange={(e) => setWho(e.target.value)}>
          <option value="">Everyone</option>
          {staff?.map((s) => <option key={s.id} value={s.id}>{s.name}</option>)}
        </select>
        <select aria-label="What" value={kind} onChange={(e) => setKind(e.target.value)}>
          <option value="">Every kind</option>
          {kinds.map((k) => <option key={k} value={k}>{k}</option>)}
        </select>
        <input type="search" aria-label="Filter the audit log" placeholder="action or id" value={text} onChange={(e) => setText(e.target.value)} />
      </div>
      <table className="list" data-testid="audit-log">
        <thead><tr><th>When</th><th>Who</th><th>What</th><th>On</th></tr></thead>
        <tbody>
          {shown.map((e) => (
            <tr key={e.id} data-testid="audit-row">
              <td>{new Date(e.created_at).toLocaleString()}</td>
              <td>{name(e.actor_staff_id)}</td>
              <td>{e.action}</td>
              <td className="muted">{e.target_kind ?? ""}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {shown.length === 0 ? <p className="muted">Nothing here{who || kind || text ? " with these filters" : ""}.</p> : null}
      {cursor ? <button className="link" onClick={() => load(cursor)}>Load older</button> : null}
    </div>
  );
}
