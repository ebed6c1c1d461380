// Bookings someone moved or deleted in Google Calendar, waiting for the front desk: apply the
// change (through the booking rules; the customer gets the usual confirmation) or dismiss it (our
// booking is written back into Google). The list comes from the console's mirror (tasks sync as
// `calendar_task`), so it updates live; applying and dismissing need the connection.
import { useEffect, useState } from "react";
import { call, ConsoleError } from "./api";
import { refusal } from "./automations";
import type { CalendarTask } from "./bindings/CalendarTask";
import * as endpoints from "./endpoints";
import { openTasks, taskActions } from "./google";

export function useCalendarTasks(version: number): CalendarTask[] {
  const [tasks, setTasks] = useState<CalendarTask[]>([]);
  useEffect(() => {
    call({ cmd: "calendar_tasks" }).then((t) => setTasks(openTasks(t)), () => {});
  }, [version]);
  return tasks;
}

export function CalendarTasks({ tasks, staffName }: { tasks: CalendarTask[]; staffName: (id: string) => string }) {
  const [note, setNote] = useState<{ ok: boolean; text: string } | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const act = async (task: CalendarTask, what: "apply" | "dismiss") => {
    setBusy(task.id);
    try {
      await endpoints.calendarTasks[what](task.id);
      setNote({ ok: true, text: what === "apply" ? "Done: the booking follows Google, and the customer is told." : "Kept: the booking is written back into Google." });
    } catch (e) {
      const c = e as ConsoleError;
      setNote({ ok: false, text: c.kind === "offline" ? "This needs the connection to the service." : refusal(c.code, c.message) });
    }
    setBusy(null);
  };
  return (
    <div data-testid="calendar-tasks">
      {tasks.length === 0 ? <p className="muted">No changes from Google Calendar are waiting.</p> : null}
      <ul className="plain">
        {tasks.map((t) => {
          const words = taskActions(t);
          return (
            <li key={t.id} data-testid="calendar-task">
              <div>{t.message} <span className="muted">({staffName(t.staff_id)})</span></div>
              <div className="inline-form">
                <button className="primary" disabled={busy === t.id} onClick={() => act(t, "apply")}>{words.apply}</button>
                <button disabled={busy === t.id} onClick={() => act(t, "dismiss")}>{words.dismiss}</button>
              </div>
            </li>
          );
        })}
      </ul>
      {note ? <p className={note.ok ? "ok-note" : "error"} role={note.ok ? "status" : "alert"}>{note.text}</p> : null}
    </div>
  );
}
