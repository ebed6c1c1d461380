// Settings → Google Calendar, per staff member: connect (Google's page opens in the system
// browser; the console listens on loopback for its answer and finishes with the service), which
// calendars block the person, the last successful sync, what went wrong in plain words or
// "Reconnect needed", and disconnect. Below, the changes made in Google waiting for the desk.
import { useCallback, useEffect, useState } from "react";
import { call, ConsoleError } from "./api";
import { refusal } from "./automations";
import type { CalendarConnection } from "./bindings/CalendarConnection";
import type { Staff } from "./bindings/Staff";
import { CalendarTasks, useCalendarTasks } from "./CalendarTasks";
import * as endpoints from "./endpoints";
import { chosen, connectionSummary, toggle } from "./google";

const words = (e: unknown) => {
  const c = e as ConsoleError;
  return c.kind === "offline" ? "This needs the connection to the service." : refusal(c.code, c.message);
};

export function GoogleCalendarSettings({ tasksVersion }: { tasksVersion: number }) {
  const [staff, setStaff] = useState<Staff[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const tasks = useCalendarTasks(tasksVersion);
  useEffect(() => {
    endpoints.staff.list().then((s) => setStaff(s.filter((x) => x.active)), (e) => setError(words(e)));
  }, []);
  if (error) return <p className="error">{error}</p>;
  if (!staff) return <p className="muted">Loading…</p>;
  const staffName = (id: string) => staff.find((s) => s.id === id)?.name ?? "A colleague";
  return (
    <div className="settings-panel">
      <h2>Google Calendar</h2>
      <p className="muted">A connected person's busy times in Google block their availability, and their bookings appear in their Google Calendar.</p>
      {staff.map((s) => <GooglePerson key={s.id} person={s} version={tasksVersion} />)}
      <h3>Changes made in Google Calendar</h3>
      <CalendarTasks tasks={tasks} staffName={staffName} />
    </div>
  );
}

/** One person's connection, read again when a connection syncs (a failed refresh shows
 * "Reconnect needed" at once). Settings shows everyone's; the Account screen shows the signed-in
 * person's own, so anyone can connect their own calendar (the service allows yourself). */
export function GooglePerson({ person, version }: { person: Pick<Staff, "id" | "name">; version: number }) {
  const [connection, setConnection] = useState<CalendarConnection | null | undefined>(undefined);
  // The calendars ticked here and not saved yet (`null`: as the connection has them), kept when
  // the connection is read again.
  const [draft, setDraft] = useState<string[] | null>(null);
  const [note, setNote] = useState<{ ok: boolean; text: string } | null>(null);
  const [waiting, setWaiting] = useState<string | null>(null);

  const load = useCallback(() => {
    endpoints.googleCalendar.get(person.id).then(
      (c) => setConnection(c),
      (e: ConsoleError) => {
        if (e.code === "calendar_not_connected") setConnection(null);
        else setNote({ ok: false, text: words(e) });
      },
    );
  }, [person.id]);
  useEffect(() => load(), [load, version]);

  const connect = async () => {
    setNote(null);
    try {
      const started = await call({ cmd: "google_calendar_connect", staff_id: person.id });
      setWaiting(started.auth_url);
      const c = await call({ cmd: "google_calendar_wait", staff_id: person.id });
      setConnection(c);
      setDraft(null);
      setNote({ ok: true, text: "Connected." });
    } catch (e) {
      setNote({ ok: false, text: words(e) });
    }
    setWaiting(null);
  };
  const run = async (f: () => Promise<unknown>, done: string) => {
    try {
      await f();
      setNote({ ok: true, text: done });
    } catch (e) {
      setNote({ ok: false, text: words(e) });
    }
    load();
  };

  if (connection === undefined && !note) return <section className="google-person"><h3>{person.name}</h3><p className="muted">Loading…</p></section>;
  const summary = connectionSummary(connection ?? null, new Date());
  const ids = draft ?? (connection ? chosen(connection) : []);
  const changed = connection ? ids.join() !== chosen(connection).join() : false;
  return (
    <section className="google-person" aria-label={`Google Calendar of ${person.name}`} data-testid="google-person">
      <h3>{person.name}</h3>
      <p><strong className={summary.tone === "ok" ? "ok-note" : summary.tone === "warn" ? "error" : "muted"} data-testid="google-status">{summary.status}</strong> <span className="muted">{summary.detail}</span></p>
      {connection ? (
        <ul className="plain">
          {connection.calendars.map((k) => (
            <li key={k.calendar_id}>
              <label className="check">
                <input type="checkbox" checked={ids.includes(k.calendar_id)} onChange={() => setDraft(toggle(connection, ids, k.calendar_id))} />
                {k.summary}{k.primary ? " (main calendar)" : ""}
                {k.selected && k.error ? <span className="error"> · {k.error}</span> : null}
              </label>
            </li>
          ))}
        </ul>
      ) : null}
      <div className="inline-form">
        {connection && changed ? <button className="primary" onClick={() => run(() => endpoints.googleCalendar.choose(person.id, ids).then(() => setDraft(null)), "These calendars now block the person's times.")}>Use these calendars</button> : null}
        {!connection || connection.status === "reconnect_needed" ? (
          <button className={connection ? "primary" : ""} disabled={waiting !== null} onClick={connect}>{connection ? "Reconnect Google Calendar" : "Connect Google Calendar"}</button>
        ) : null}
        {connection ? <button className="link" onClick={() => run(() => endpoints.googleCalendar.disconnect(person.id), "Disconnected: Google no longer blocks times, and the sign-in is removed.")}>Disconnect</button> : null}
      </div>
      {waiting ? (
        <p className="muted" role="status">
          Finish signing in with Google in your browser. If it did not open, <a href={waiting} target="_blank" rel="noreferrer">open Google's page</a>.
        </p>
      ) : null}
      {note ? <p className={note.ok ? "ok-note" : "error"} role={note.ok ? "status" : "alert"}>{note.text}</p> : null}
    </section>
  );
}
