// The signed-in person's account: change the password, turn two-factor sign-in on (a QR code or
// the secret, a code, then the recovery codes shown this once) or off, their own Google Calendar
// (connect, choose calendars, reconnect, disconnect — whatever their role), and for owners the
// business's "require two-factor for everyone" switch. All of it asks the service (online only);
// turning two-factor off and the switch ask for the password or a code again first.
import { useCallback, useEffect, useState, type FormEvent } from "react";
import { call, ConsoleError } from "./api";
import type { AccountSecurity } from "./bindings/AccountSecurity";
import type { Permission } from "./bindings/Permission";
import type { SecuritySettings } from "./bindings/SecuritySettings";
import type { TwoFactorEnrolment } from "./bindings/TwoFactorEnrolment";
import { GooglePerson } from "./GoogleCalendarSettings";
import { securityMessage } from "./privacy";
import { mayRequireTwoFactor } from "./permissions";
import { useSensitive } from "./Reauth";

type Note = { ok: boolean; text: string } | null;

function NoteLine({ note }: { note: Note }) {
  return note ? <p className={note.ok ? "ok-note" : "error"} role={note.ok ? "status" : "alert"}>{note.text}</p> : null;
}

export function Account({ permissions, me, tasksVersion }: { permissions: readonly Permission[]; me: { id: string; name: string }; tasksVersion: number }) {
  const [security, setSecurity] = useState<AccountSecurity | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(() => {
    call({ cmd: "account_security" }).then(
      (s) => { setSecurity(s); setError(null); },
      (e: ConsoleError) => setError(e.kind === "offline" ? "Your account's security settings need the network." : e.message),
    );
  }, []);
  useEffect(load, [load]);
  return (
    <main className="account" aria-label="Account">
      {error ? <p className="error">{error}</p> : null}
      <ChangePassword />
      {security ? <TwoFactor security={security} onChanged={load} /> : error ? null : <p className="muted">Loading…</p>}
      <section aria-label="Your Google Calendar">
        <h2>Your Google Calendar</h2>
        <p className="muted">Your busy times in Google keep the assistant from booking you then, and your bookings appear in your Google Calendar.</p>
        <GooglePerson person={me} version={tasksVersion} />
      </section>
      {/* Requiring two-factor for everyone is the owners' (`manage_owners`), as the service rules. */}
      {mayRequireTwoFactor(permissions) ? <RequireTwoFactor /> : null}
    </main>
  );
}

function ChangePassword() {
  const [form, setForm] = useState({ current: "", next: "", again: "" });
  const [note, setNote] = useState<Note>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (form.next !== form.again) {
      setNote({ ok: false, text: "The two new passwords are not the same." });
      return;
    }
    try {
      await call({ cmd: "change_password", current_password: form.current, new_password: form.next });
      setForm({ current: "", next: "", again: "" });
      setNote({ ok: true, text: "Password changed. Every other session of your account has been signed out." });
    } catch (err) {
      const c = err as ConsoleError;
      setNote({ ok: false, text: c.code === "invalid_credentials" || c.code === "invalid_code" ? "Your current password is not right." : c.kind === "offline" ? "Changing the password needs the network." : c.message });
    }
  };
  return (
    <section>
      <h2>Password</h2>
      <form className="stack-form" onSubmit={submit} aria-label="Change password">
        <label>Current password<input type="password" name="current-password" autoComplete="current-password" required value={form.current} onChange={(e) => setForm({ ...form, current: e.target.value })} /></label>
        <label>New password<input type="password" name="new-password" autoComplete="new-password" minLength={8} required value={form.next} onChange={(e) => setForm({ ...form, next: e.target.value })} /></label>
        <label>New password again<input type="password" name="new-password-again" autoComplete="new-password" required value={form.again} onChange={(e) => setForm({ ...form, again: e.target.value })} /></label>
        <button type="submit" className="primary">Change password</button>
      </form>
      <NoteLine note={note} />
    </section>
  );
}

function TwoFactor({ security, onChanged }: { security: AccountSecurity; onChanged: () => void }) {
  const [enrolment, setEnrolment] = useState<TwoFactorEnrolment | null>(null);
  const [code, setCode] = useState("");
  const [recovery, setRecovery] = useState<string[] | null>(null);
  const [note, setNote] = useState<Note>(null);
  const [run, dialog] = useSensitive();

  const begin = async () => {
    setNote(null);
    try {
      setEnrolment(await call({ cmd: "two_factor_begin" }));
    } catch (e) {
      setNote({ ok: false, text: securityMessage(e) });
    }
  };
  const confirm = async (e: FormEvent) => {
    e.preventDefault();
    try {
      const answer = await call({ cmd: "two_factor_confirm", code });
      setEnrolment(null);
      setCode("");
      setRecovery(answer.recovery_codes);
      setNote(null);
      onChanged();
    } catch (err) {
      setNote({ ok: false, text: securityMessage(err) });
    }
  };
  const disable = async () => {
    const result = await run("Turning two-factor sign-in off", () => call({ cmd: "two_factor_disable" }));
    if (result.ok) {
      setNote({ ok: true, text: "Two-factor sign-in is off." });
      onChanged();
    } else if (!result.cancelled) setNote({ ok: false, text: result.message });
  };

  return (
    <section aria-label="Two-factor sign-in">
      <h2>Two-factor sign-in</h2>
      {recovery ? (
        <div data-testid="recovery-codes">
          <p><strong>Two-factor sign-in is on.</strong> Save these recovery codes somewhere safe: each one signs you in once if you lose your phone. They are shown only now.</p>
          <ul className="recovery-codes">{recovery.map((c) => <li key={c}>{c}</li>)}</ul>
          <button className="primary" onClick={() => setRecovery(null)}>I have saved them</button>
        </div>
      ) : security.two_factor_enabled ? (
        <>
          <p>On. {security.recovery_codes_left} recovery code{security.recovery_codes_left === 1 ? "" : "s"} left.</p>
          {security.business_requires_two_factor ? <p className="muted">Your business requires two-factor sign-in: it cannot be turned off.</p> : <button onClick={disable}>Turn two-factor sign-in off</button>}
        </>
      ) : enrolment ? (
        <form className="stack-form" onSubmit={confirm} aria-label="Set up two-factor sign-in">
          <p>Scan this with your authenticator app (or type the key), then enter the code it shows.</p>
          <div className="qr" aria-label="QR code" dangerouslySetInnerHTML={{ __html: enrolment.qr_svg }} />
          <p>Key: <span className="secret" data-testid="totp-secret">{enrolment.secret}</span></p>
          <label>Code<input name="totp-code" inputMode="numeric" autoComplete="one-time-code" required value={code} onChange={(e) => setCode(e.target.value)} /></label>
          <div className="privacy-actions">
            <button type="submit" className="primary">Turn on</button>
            <button type="button" onClick={() => setEnrolment(null)}>Cancel</button>
          </div>
        </form>
      ) : (
        <>
          <p>Off. With it on, signing in also asks for a code from an app on your phone.</p>
          <button className="primary" onClick={begin}>Set up two-factor sign-in</button>
        </>
      )}
      <NoteLine note={note} />
      {dialog}
    </section>
  );
}

function RequireTwoFactor() {
  const [settings, setSettings] = useState<SecuritySettings | null>(null);
  const [note, setNote] = useState<Note>(null);
  const [run, dialog] = useSensitive();
  useEffect(() => {
    call({ cmd: "security_settings" }).then(setSettings, () => {});
  }, []);
  if (!settings) return null;
  const toggle = async (require: boolean) => {
    const result = await run(require ? "Requiring two-factor sign-in" : "No longer requiring two-factor sign-in", () => call({ cmd: "require_two_factor", require }));
    if (result.ok) {
      setSettings(result.value);
      setNote({ ok: true, text: require ? "Everyone now signs in with a second factor; colleagues without one set it up at their next sign-in." : "Two-factor sign-in is no longer required." });
    } else if (!result.cancelled) setNote({ ok: false, text: result.message });
  };
  return (
    <section aria-label="Business sign-in rules">
      <h2>Your business</h2>
      <label>
        <input type="checkbox" name="require-two-factor" checked={settings.require_two_factor} onChange={(e) => toggle(e.target.checked)} /> Require two-factor sign-in for everyone
      </label>
      <p className="muted">A colleague who lost their phone: Settings → Staff → Reset sign-in.</p>
      <NoteLine note={note} />
      {dialog}
    </section>
  );
}
