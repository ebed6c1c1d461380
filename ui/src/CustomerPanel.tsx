import { useEffect, useState } from "react";
import { format } from "date-fns";
import { call, ConsoleError } from "./api";
import { canMarkConfirmed, CONFIRMATION_LABEL, confirmationState, localNote, refusal, withMarkedConfirmed } from "./automations";
import type { Availability } from "./bindings/Availability";
import type { Booking } from "./bindings/Booking";
import type { CalendarEntry } from "./bindings/CalendarEntry";
import type { CustomerProfile } from "./bindings/CustomerProfile";
import type { Directory } from "./bindings/Directory";
import { WordsEditor } from "./Words";
import { CustomerPrivacy } from "./Privacy";

function when(b: Booking) {
  return format(new Date(b.start), "EEE d MMM, HH:mm");
}

export function CustomerPanel({ customerId, version, directory, onHistory, role = "agent", onErased = () => {} }: { customerId: string; version: number; directory: Directory; onHistory: () => void; role?: string; onErased?: () => void }) {
  const [profile, setProfile] = useState<CustomerProfile | null>(null);
  const [booking, setBooking] = useState(false);
  const [confirming, setConfirming] = useState<string | null>(null);
  const [message, setMessage] = useState<string | null>(null);

  // Only this customer's answer is kept: an answer for the customer shown before (a change that
  // was still loading when another conversation was opened) arrived last and replaced the new
  // customer's panel with the old one.
  useEffect(() => {
    let stale = false;
    call({ cmd: "customer", customer_id: customerId }).then(
      (p) => {
        if (!stale && (!p || p.customer.id === customerId)) setProfile(p);
      },
      () => {},
    );
    return () => {
      stale = true;
    };
  }, [customerId, version]);

  // The customer said they will come: queued like every change (it works offline), shown at once
  // as confirmed and pending; the service's refusal (cancelled meanwhile, already begun) comes
  // back on the booking in words, which then shows again what the service holds.
  const markConfirmed = async (entry: CalendarEntry) => {
    setConfirming(entry.booking.id);
    try {
      const queued = await call({ cmd: "confirm_booking", booking_id: entry.booking.id, expected_version: entry.booking.version });
      setProfile((p) => (p && p.customer.id === customerId ? { ...p, upcoming: withMarkedConfirmed(p.upcoming, entry.booking.id, queued.mutation_id) } : p));
      setMessage(null);
    } catch (e) {
      const c = e as ConsoleError;
      setMessage(refusal(c.code, c.message));
    }
    setConfirming(null);
  };

  // Another customer's profile is never shown while this one's loads.
  if (!profile || profile.customer.id !== customerId) return <aside className="customer">…</aside>;
  const c = profile.customer;
  const service = (id: string) => directory.services.find((s) => s.id === id)?.name ?? "Appointment";
  const staff = (id: string) => directory.staff.find((s) => s.id === id)?.name ?? "";

  return (
    <aside className="customer" aria-label="Customer">
      <h3>{c.name || c.phone || "Customer"}</h3>
      <button className="link" onClick={onHistory}>Whole history ({profile.conversations.length} conversation{profile.conversations.length === 1 ? "" : "s"})</button>
      <dl>
        {c.phone ? <><dt>Phone</dt><dd>{c.phone}</dd></> : null}
        {c.email ? <><dt>Email</dt><dd>{c.email}</dd></> : null}
        <dt>Messages</dt>
        <dd>
          {c.opted_out_whatsapp ? "No WhatsApp (opted out)" : "WhatsApp OK"} · {c.opted_out_sms ? "No SMS (opted out)" : "SMS OK"}
        </dd>
      </dl>
      <WordsEditor words={c.tags} what="tag" max={50} onChange={(add, remove) => call({ cmd: "tag_customer", customer_id: c.id, add, remove })} />
      {c.notes ? <p className="notes">{c.notes}</p> : null}
      <h4>Upcoming</h4>
      {message ? <p className="error" role="alert">{message}</p> : null}
      {profile.upcoming.length ? (
        <ul className="bookings" data-testid="upcoming">
          {profile.upcoming.map((e) => {
            const b = e.booking;
            const note = localNote(e);
            return (
              <li key={b.id} className={b.source === "staff" ? "" : "by-assistant"} data-testid="upcoming-booking">
                {when(b)} · {service(b.service_id)} {staff(b.staff_id) ? `with ${staff(b.staff_id)}` : ""}{" "}
                <span className={`badge ${confirmationState(b)}`} data-testid="confirmation">{CONFIRMATION_LABEL[confirmationState(b)]}</span>
                {e.local?.state === "pending" ? <span className="local pending" data-testid="pending" title={note ?? undefined}> Waiting to send…</span> : null}
                {canMarkConfirmed(e, new Date()) ? <> <button className="link" disabled={confirming === b.id} onClick={() => markConfirmed(e)}>Mark confirmed</button></> : null}
                {e.local?.state === "refused" ? (
                  <div className="error" data-testid="booking-local">
                    {note} <button className="link" onClick={() => e.local && call({ cmd: "discard", mutation_id: e.local.mutation_id }).catch(() => {})}>Dismiss</button>
                  </div>
                ) : null}
              </li>
            );
          })}
        </ul>
      ) : (
        <p className="muted">Nothing booked.</p>
      )}
      {booking ? <BookForm customerId={c.id} directory={directory} onDone={() => setBooking(false)} /> : <button className="primary" onClick={() => setBooking(true)}>Book</button>}
      {profile.past.length ? (
        <>
          <h4>Past</h4>
          <ul className="bookings past">
            {profile.past.slice(0, 10).map((b) => <li key={b.id}>{when(b)} · {service(b.service_id)} {b.status !== "confirmed" ? `(${b.status})` : ""}</li>)}
          </ul>
        </>
      ) : null}
      {role === "owner" || role === "admin" ? <CustomerPrivacy key={c.id} customerId={c.id} name={c.name || c.phone || "this customer"} onErased={onErased} /> : null}
    </aside>
  );
}

/** Books a free time: the service proposes only free slots, so nothing can be double-booked. */
function BookForm({ customerId, directory, onDone }: { customerId: string; directory: Directory; onDone: () => void }) {
  const [serviceId, setServiceId] = useState(directory.services[0]?.id ?? "");
  const [day, setDay] = useState(() => format(new Date(), "yyyy-MM-dd"));
  // Free times are kept with the day and service they were asked for: after the day changes, the
  // previous day's times are never shown (nor clickable), and an answer that comes back late for a
  // day no longer chosen is dropped.
  const [found, setFound] = useState<{ day: string; serviceId: string; slots: Availability["slots"] } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const slots = found && found.day === day && found.serviceId === serviceId ? found.slots : null;

  useEffect(() => {
    if (!serviceId) return;
    let stale = false;
    setError(null);
    call({ cmd: "slots", service_id: serviceId, from: day, to: day, staff_id: null }).then(
      (a) => !stale && setFound({ day, serviceId, slots: a.slots }),
      (e) => !stale && setError(e instanceof ConsoleError && e.kind === "offline" ? "Free times need the connection; try again when online." : e.message),
    );
    return () => {
      stale = true;
    };
  }, [serviceId, day]);

  const book = async (start: string, staffId: string | null) => {
    try {
      await call({ cmd: "create_booking", customer_id: customerId, service_id: serviceId, start, staff_id: staffId });
      onDone();
    } catch (e) {
      setError((e as Error).message);
    }
  };

  return (
    <div className="book-form" aria-label="Book">
      <select aria-label="Service" value={serviceId} onChange={(e) => setServiceId(e.target.value)}>
        {directory.services.map((s) => <option key={s.id} value={s.id}>{s.name} ({s.duration_minutes} min)</option>)}
      </select>
      <input type="date" aria-label="Day" value={day} onChange={(e) => setDay(e.target.value)} />
      {error ? <p className="error">{error}</p> : null}
      {slots === null && !error ? <p className="muted">Finding free times…</p> : null}
      {slots && !slots.length ? <p className="muted">No free time that day.</p> : null}
      <div className="slots" data-day={slots ? day : undefined}>
        {slots?.slice(0, 24).map((s) => (
          <button key={s.start} className="slot" data-testid="slot" onClick={() => book(s.start, s.staff_ids[0] ?? null)}>
            {s.local_start.slice(11, 16)}
          </button>
        ))}
      </div>
      <button className="link" onClick={onDone}>Close</button>
    </div>
  );
}
