import { useEffect, useState } from "react";
import { format } from "date-fns";
import { call, ConsoleError } from "./api";
import { CONFIRMATION_LABEL, confirmationState } from "./automations";
import type { Availability } from "./bindings/Availability";
import type { Booking } from "./bindings/Booking";
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

  useEffect(() => {
    call({ cmd: "customer", customer_id: customerId }).then(setProfile, () => {});
  }, [customerId, version]);

  if (!profile) return <aside className="customer">…</aside>;
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
      {profile.upcoming.length ? (
        <ul className="bookings" data-testid="upcoming">
          {profile.upcoming.map((b) => (
            <li key={b.id} className={b.source === "staff" ? "" : "by-assistant"}>
              {when(b)} · {service(b.service_id)} {staff(b.staff_id) ? `with ${staff(b.staff_id)}` : ""}{" "}
              <span className={`badge ${confirmationState(b)}`} data-testid="confirmation">{CONFIRMATION_LABEL[confirmationState(b)]}</span>
            </li>
          ))}
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
