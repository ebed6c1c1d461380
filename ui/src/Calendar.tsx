// Day and week views per staff member (react-big-calendar: MIT, resource columns, and a
// drag-and-drop addon; chosen over FullCalendar, whose resource views are not free).
import { useCallback, useEffect, useMemo, useState } from "react";
import { Calendar, dateFnsLocalizer, Views, type View } from "react-big-calendar";
import dragAndDrop, { type EventInteractionArgs } from "react-big-calendar/lib/addons/dragAndDrop";
import { addDays, endOfWeek, format, getDay, parse, startOfDay, startOfWeek } from "date-fns";
import { enGB } from "date-fns/locale/en-GB";
import "react-big-calendar/lib/css/react-big-calendar.css";
import "react-big-calendar/lib/addons/dragAndDrop/styles.css";
import { call, ConsoleError } from "./api";
import { canMarkConfirmed, CONFIRMATION_LABEL, confirmationState, localNote, markedConfirmed, refusal, SOON_MS, unconfirmedSoon, withMarkedConfirmed } from "./automations";
import type { CalendarEntry } from "./bindings/CalendarEntry";
import type { Customer } from "./bindings/Customer";
import type { Directory } from "./bindings/Directory";
import { CalendarTasks, useCalendarTasks } from "./CalendarTasks";
import { mayBook, slotError, slotState, type SlotState } from "./slots";
import { layout, stepPerson, weekPerson } from "./week";

const localizer = dateFnsLocalizer({ format, parse, startOfWeek: (d: Date) => startOfWeek(d, { weekStartsOn: 1 }), getDay, locales: { "en-GB": enGB } });

interface Item {
  id: string;
  title: string;
  start: Date;
  end: Date;
  resourceId: string;
  entry: CalendarEntry;
}

// The addon is CommonJS; depending on the bundler's interop its function is the module or its
// `default`.
const withDragAndDrop = ((dragAndDrop as unknown as { default?: typeof dragAndDrop }).default ?? dragAndDrop) as typeof dragAndDrop;
const DnDCalendar = withDragAndDrop<Item, { id: string; title: string }>(Calendar);

/// A booking to show (from a report's rows): its day, and its details once it is loaded.
export type CalendarFocus = { bookingId: string; start: string; nonce: number };

export function CalendarView({ version, tasksVersion = 0, directory, focus = null, me = null }: { version: number; tasksVersion?: number; directory: Directory; focus?: CalendarFocus | null; me?: string | null }) {
  const [view, setView] = useState<View>(Views.DAY);
  // The week view shows one person's week (see week.ts for why).
  const [picked, setPicked] = useState<string | null>(null);
  const person = weekPerson(directory.staff, picked, me);
  const drawn = layout(view === Views.WEEK ? "week" : "day", directory.staff, person);
  const [date, setDate] = useState(() => (focus ? new Date(focus.start) : new Date()));
  const [entries, setEntries] = useState<CalendarEntry[]>([]);
  const [message, setMessage] = useState<string | null>(null);
  const [selected, setSelected] = useState<Item | null>(null);
  const [slot, setSlot] = useState<{ start: Date; staffId: string } | null>(null);
  const [soon, setSoon] = useState<CalendarEntry[]>([]);
  const [showSoon, setShowSoon] = useState(false);
  const [showTasks, setShowTasks] = useState(false);
  const tasks = useCalendarTasks(tasksVersion);

  const range = useMemo(() => (view === Views.WEEK ? [startOfWeek(date, { weekStartsOn: 1 }), addDays(endOfWeek(date, { weekStartsOn: 1 }), 1)] : [startOfDay(date), addDays(startOfDay(date), 1)]), [view, date]);

  const load = useCallback(() => {
    call({ cmd: "calendar", from: range[0].toISOString(), to: range[1].toISOString() }).then(setEntries, () => {});
  }, [range]);
  useEffect(() => {
    load();
  }, [load, version]);

  // Opened on a booking: go to its day, and open its details when the day's bookings are in.
  const [pending, setPending] = useState<string | null>(focus?.bookingId ?? null);
  useEffect(() => {
    if (!focus) return;
    setView(Views.DAY);
    setDate(new Date(focus.start));
    setPending(focus.bookingId);
  }, [focus]);

  // Unconfirmed soon: from the mirror, again when bookings change and as time passes.
  useEffect(() => {
    const loadSoon = () => {
      const now = new Date();
      call({ cmd: "calendar", from: now.toISOString(), to: new Date(now.getTime() + SOON_MS).toISOString() }).then((e) => setSoon(unconfirmedSoon(e, new Date())), () => {});
    };
    loadSoon();
    const timer = setInterval(loadSoon, 60_000);
    return () => clearInterval(timer);
  }, [version]);

  // Cancelled bookings stay on the calendar, marked, but take no time (the service, asked
  // through `check_slot`, does not count them).
  const shown: Item[] = entries.filter(drawn.shows).map((e) => ({ id: e.booking.id, title: `${e.customer_name} · ${directory.services.find((s) => s.id === e.booking.service_id)?.name ?? ""}`, start: new Date(e.booking.start), end: new Date(e.booking.end), resourceId: e.booking.staff_id, entry: e }));
  useEffect(() => {
    const item = pending ? shown.find((i) => i.id === pending) : undefined;
    if (item) {
      setSelected(item);
      setPending(null);
    }
  }, [pending, entries]); // eslint-disable-line react-hooks/exhaustive-deps

  // Staff record that the customer said they will come: queued like every change (it works
  // offline), shown at once as confirmed and pending; a refusal (the booking changed meanwhile)
  // comes back on the booking, where it says so.
  const [confirming, setConfirming] = useState<string | null>(null);
  const markConfirmed = async (entry: CalendarEntry) => {
    setConfirming(entry.booking.id);
    try {
      const queued = await call({ cmd: "confirm_booking", booking_id: entry.booking.id, expected_version: entry.booking.version });
      const pending = markedConfirmed(entry, queued.mutation_id);
      setEntries((all) => all.map((e) => (e.booking.id === entry.booking.id ? pending : e)));
      setSoon((all) => unconfirmedSoon(withMarkedConfirmed(all, entry.booking.id, queued.mutation_id), new Date()));
      setSelected((item) => (item && item.id === entry.booking.id ? { ...item, entry: pending } : item));
      setMessage(null);
      load();
    } catch (e) {
      const c = e as ConsoleError;
      setMessage(refusal(c.code, c.message));
    }
    setConfirming(null);
  };

  const move = async ({ event, start, resourceId }: EventInteractionArgs<Item>) => {
    const staffId = (resourceId as string | undefined) ?? event.resourceId;
    const startDate = new Date(start);
    const check = await call({ cmd: "check_slot", service_id: event.entry.booking.service_id, start: startDate.toISOString(), staff_id: staffId, booking_id: event.id }).then(slotState, slotError);
    if (!mayBook(check)) {
      setMessage(check.state === "refused" ? check.message : null);
      return;
    }
    try {
      await call({ cmd: "reschedule_booking", booking_id: event.id, expected_version: event.entry.booking.version, start: startDate.toISOString(), staff_id: staffId });
      setMessage(null);
    } catch (e) {
      setMessage((e as Error).message);
    }
  };

  return (
    <main className="calendar" aria-label="Calendar">
      {message ? <p className="error" role="alert">{message}</p> : null}
      <div className="calendar-tools">
        {view === Views.WEEK && person ? (
          <span className="week-person" data-testid="week-person">
            <button className="link" aria-label="Previous person's week" onClick={() => setPicked(stepPerson(directory.staff, person, -1))}>‹</button>
            <select aria-label="Whose week" value={person} onChange={(e) => setPicked(e.target.value)}>
              {directory.staff.map((s) => <option key={s.id} value={s.id}>{s.id === me ? `${s.name} (you)` : s.name}</option>)}
            </select>
            <button className="link" aria-label="Next person's week" onClick={() => setPicked(stepPerson(directory.staff, person, 1))}>›</button>
          </span>
        ) : null}
        {tasks.length ? <button className="chip active" onClick={() => setShowTasks(!showTasks)} aria-expanded={showTasks}>Changed in Google ({tasks.length})</button> : null}
        <button className={soon.length ? "chip active" : "chip"} onClick={() => setShowSoon(!showSoon)} aria-expanded={showSoon}>Unconfirmed soon ({soon.length})</button>
      </div>
      {showTasks && tasks.length ? (
        <div className="unconfirmed-soon" role="dialog" aria-label="Changed in Google Calendar">
          <strong>Changed in Google Calendar</strong>
          <CalendarTasks tasks={tasks} staffName={(id) => directory.staff.find((s) => s.id === id)?.name ?? "A colleague"} />
          <button className="link" onClick={() => setShowTasks(false)}>Close</button>
        </div>
      ) : null}
      {showSoon ? (
        <div className="unconfirmed-soon" role="dialog" aria-label="Unconfirmed soon">
          <strong>Starting within 2 hours, not confirmed by the customer</strong>
          {soon.length === 0 ? <p className="muted">None: everyone coming soon has confirmed.</p> : null}
          <ul className="plain" data-testid="unconfirmed-soon">
            {soon.map((e) => (
              <li key={e.booking.id} data-testid="unconfirmed-row">
                <button className="link" onClick={() => { setDate(new Date(e.booking.start)); setShowSoon(false); }}>{format(new Date(e.booking.start), "HH:mm")}</button>{" "}
                {e.customer_name} · {directory.services.find((s) => s.id === e.booking.service_id)?.name ?? ""} · {e.staff_name}{" "}
                {canMarkConfirmed(e, new Date()) ? <button className="link" disabled={confirming === e.booking.id} onClick={() => markConfirmed(e)}>Mark confirmed</button> : null}
              </li>
            ))}
          </ul>
          <button className="link" onClick={() => setShowSoon(false)}>Close</button>
        </div>
      ) : null}
      <DnDCalendar
        localizer={localizer}
        culture="en-GB"
        events={shown}
        components={{ event: BookingEvent }}
        draggableAccessor={(e) => e.entry.booking.status !== "cancelled"}
        resources={drawn.resources}
        resourceIdAccessor="id"
        resourceTitleAccessor="title"
        views={[Views.DAY, Views.WEEK]}
        view={view}
        onView={setView}
        date={date}
        onNavigate={setDate}
        step={15}
        timeslots={4}
        min={new Date(1970, 0, 1, 7)}
        max={new Date(1970, 0, 1, 21)}
        onEventDrop={move}
        resizable={false}
        onSelectEvent={(e) => setSelected(e)}
        selectable
        onSelectSlot={({ start, resourceId }) => {
          setSelected(null);
          setSlot({ start: new Date(start), staffId: (resourceId as string | undefined) ?? person ?? "" });
        }}
        eventPropGetter={(e) => ({ className: [e.entry.by_assistant ? "by-assistant" : "", e.entry.local ? "local-pending" : "", `booking-${confirmationState(e.entry.booking)}`].join(" ") })}
      />
      {slot ? <NewBooking slot={slot} directory={directory} onDone={(m) => { setSlot(null); setMessage(m); }} /> : null}
      {selected ? (
        <div className="popover booking-detail" role="dialog" aria-label="Booking">
          <strong>{selected.title}</strong>
          <div>{format(selected.start, "EEE d MMM, HH:mm")}–{format(selected.end, "HH:mm")} · {selected.entry.staff_name}</div>
          {selected.entry.by_assistant ? <div className="muted">Booked by the assistant</div> : null}
          <div><ConfirmationBadge entry={selected.entry} /></div>
          {localNote(selected.entry) ? <div className={selected.entry.local?.state === "refused" ? "error" : "muted"} data-testid="booking-local">{localNote(selected.entry)}</div> : null}
          {canMarkConfirmed(selected.entry, new Date()) ? <button disabled={confirming === selected.id} onClick={() => markConfirmed(selected.entry)}>Mark confirmed for the customer</button> : null}
          {selected.entry.booking.status === "cancelled" ? null : <button
            onClick={async () => {
              try {
                await call({ cmd: "cancel_booking", booking_id: selected.id, expected_version: selected.entry.booking.version, reason: null });
              } catch (e) {
                setMessage((e as Error).message);
              }
              setSelected(null);
            }}
          >
            Cancel booking
          </button>}
          <button className="link" onClick={() => setSelected(null)}>Close</button>
        </div>
      ) : null}
    </main>
  );
}

function ConfirmationBadge({ entry }: { entry: CalendarEntry }) {
  const state = confirmationState(entry.booking);
  return <span className={`badge ${state}`} data-testid="confirmation">{CONFIRMATION_LABEL[state]}</span>;
}

/** A booking on the calendar: who and what, and whether the customer confirmed. */
function BookingEvent({ event }: { event: Item }) {
  return (
    <span>
      {event.title} <ConfirmationBadge entry={event.entry} />
    </span>
  );
}

/** A booking made on the calendar: a customer, a service, and only if the time is free. */
function NewBooking({ slot, directory, onDone }: { slot: { start: Date; staffId: string }; directory: Directory; onDone: (message: string | null) => void }) {
  const services = directory.services.filter((s) => s.staff_ids.length === 0 || s.staff_ids.includes(slot.staffId));
  const [serviceId, setServiceId] = useState(services[0]?.id ?? "");
  const [text, setText] = useState("");
  const [found, setFound] = useState<Customer[]>([]);
  const [customer, setCustomer] = useState<Customer | null>(null);
  const service = services.find((s) => s.id === serviceId);
  const end = new Date(slot.start.getTime() + (service?.duration_minutes ?? 30) * 60_000);
  const staffName = directory.staff.find((s) => s.id === slot.staffId)?.name ?? "";
  const [check, setCheck] = useState<SlotState>({ state: "checking" });

  useEffect(() => {
    if (!service) return;
    let current = true;
    setCheck({ state: "checking" });
    call({ cmd: "check_slot", service_id: service.id, start: slot.start.toISOString(), staff_id: slot.staffId, booking_id: null })
      .then(slotState, slotError)
      .then((s) => current && setCheck(s));
    return () => {
      current = false;
    };
  }, [service?.id, slot.start.getTime(), slot.staffId]);

  useEffect(() => {
    if (text.trim().length < 2) return setFound([]);
    const handle = setTimeout(() => call({ cmd: "find_customers", text }).then(setFound, () => setFound([])), 120);
    return () => clearTimeout(handle);
  }, [text]);

  const book = async () => {
    if (!customer || !service) return;
    try {
      await call({ cmd: "create_booking", customer_id: customer.id, service_id: service.id, start: slot.start.toISOString(), staff_id: slot.staffId });
      onDone(null);
    } catch (e) {
      onDone((e as Error).message);
    }
  };

  return (
    <div className="popover booking-detail" role="dialog" aria-label="New booking">
      <strong>New booking · {format(slot.start, "EEE d MMM, HH:mm")} · {staffName}</strong>
      <select aria-label="Service" value={serviceId} onChange={(e) => setServiceId(e.target.value)}>
        {services.map((s) => <option key={s.id} value={s.id}>{s.name} ({s.duration_minutes} min)</option>)}
      </select>
      {customer ? (
        <div>For {customer.name || customer.phone} <button className="link" onClick={() => setCustomer(null)}>change</button></div>
      ) : (
        <>
          <input aria-label="Customer" placeholder="Customer name or number" value={text} onChange={(e) => setText(e.target.value)} autoFocus />
          <ul className="plain">
            {found.map((c) => <li key={c.id}><button className="link" onClick={() => setCustomer(c)}>{c.name || c.phone}</button></li>)}
          </ul>
        </>
      )}
      {check.state === "refused" ? <p className="error" data-testid="slot-refused">{check.message}</p> : null}
      {check.state === "unchecked" ? <p className="muted">{check.message}</p> : null}
      <button className="primary" disabled={!mayBook(check) || !customer || !service} onClick={book}>Book {format(slot.start, "HH:mm")}–{format(end, "HH:mm")}</button>
      <button className="link" onClick={() => onDone(null)}>Close</button>
    </div>
  );
}
