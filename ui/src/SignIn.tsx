import { useState, type FormEvent } from "react";
import { call, ConsoleError } from "./api";
import type { Session } from "./bindings/Session";
import type { Keep } from "./bindings/Keep";
import type { TwoFactorEnrolment } from "./bindings/TwoFactorEnrolment";
import { localTimeZone, newBusinessProblems, timeZones } from "./setup";

/** Where a sign-in can be kept on this computer: the system keyring when it works; otherwise the
 * person chooses between an encrypted file (a passphrase opens it after a restart) and this
 * session only. Never a dead end, never a token on disk in plaintext. */
export function keepChoices(keyring: boolean): Keep[] {
  return keyring ? ["keyring"] : ["file", "session"];
}

/** Why a sign-in did not work, in words (`asked`: the code field is already showing). */
export function signInMessage(err: unknown, asked: boolean): string {
  if (!(err instanceof ConsoleError)) return (err as Error).message;
  switch (err.code) {
    case "two_factor_required":
      return asked ? "Enter the code from your authenticator app." : "This account signs in with a second factor: enter the code from your authenticator app.";
    case "invalid_code":
      return "That code is not right (each code works once: wait for the next one).";
    case "two_factor_enrolment_required":
      return "Your business requires two-factor sign-in and this account has none set up yet.";
  }
  return err.kind === "refused" ? "That email and password do not match." : err.message;
}

/** The sign-in screen; it can also create a new business (the service's signup), after which
 * `onSignedIn` is told the business is new so the first-run setup opens. */
export function SignIn({ keyring, onSignedIn }: { keyring: boolean; onSignedIn: (s: Session, newBusiness?: boolean) => void }) {
  const [creating, setCreating] = useState(false);
  const [business, setBusiness] = useState({ business_name: "", timezone: localTimeZone(), name: "" });
  const [server, setServer] = useState(() => localStorage.getItem("switchboard.server") ?? "http://127.0.0.1:8080");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  // Asked once the service says the account signs in with a second factor.
  const [code, setCode] = useState<string | null>(null);
  const [keep, setKeep] = useState<Keep>(keyring ? "keyring" : "file");
  const [passphrase, setPassphrase] = useState("");
  const [again, setAgain] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  // The business requires two-factor and this account has none: set it up here, then sign in.
  const [enrolment, setEnrolment] = useState<TwoFactorEnrolment | null>(null);
  const [enrolled, setEnrolled] = useState<{ session: Session; codes: string[] } | null>(null);

  const enrol = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const answer = await call({ cmd: "sign_in_enrol_confirm", code: code ?? "", keep, passphrase: keep === "file" ? passphrase : null });
      localStorage.setItem("switchboard.server", server);
      setEnrolled({ session: answer.session, codes: answer.recovery_codes });
    } catch (err) {
      setError(signInMessage(err, true));
    } finally {
      setBusy(false);
    }
  };

  if (enrolled) {
    return (
      <main className="signin">
        <div className="modal" data-testid="recovery-codes">
          <h1>Two-factor sign-in is on</h1>
          <p>Save these recovery codes somewhere safe: each one signs you in once if you lose your phone. They are shown only now.</p>
          <ul className="recovery-codes">{enrolled.codes.map((c) => <li key={c}>{c}</li>)}</ul>
          <button className="primary" onClick={() => onSignedIn(enrolled.session)}>I have saved them</button>
        </div>
      </main>
    );
  }
  if (enrolment) {
    return (
      <main className="signin">
        <form onSubmit={enrol} aria-label="Set up two-factor sign-in">
          <h1>Set up two-factor sign-in</h1>
          <p className="muted">Your business requires it. Scan this with your authenticator app (or type the key), then enter the code it shows.</p>
          <div className="qr" aria-label="QR code" dangerouslySetInnerHTML={{ __html: enrolment.qr_svg }} />
          <p>Key: <span className="secret">{enrolment.secret}</span></p>
          <label>
            Code
            <input name="code" inputMode="numeric" autoComplete="one-time-code" value={code ?? ""} onChange={(e) => setCode(e.target.value)} required autoFocus />
          </label>
          {error ? <p className="error" role="alert">{error}</p> : null}
          <button type="submit" className="primary" disabled={busy}>{busy ? "Signing in…" : "Turn on and sign in"}</button>
          <button type="button" className="link" onClick={() => { setEnrolment(null); setCode(null); }}>Back</button>
        </form>
      </main>
    );
  }

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (keep === "file" && passphrase !== again) {
      setError("The two passphrases are not the same.");
      return;
    }
    const zones = timeZones();
    const problems = creating ? newBusinessProblems({ ...business, email, password }, zones) : [];
    if (problems.length > 0) {
      setError(problems.join(" "));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const kept = { keep, passphrase: keep === "file" ? passphrase : null };
      const session = creating
        ? await call({ cmd: "sign_up", server, ...business, timezone: business.timezone.trim(), email, password, ...kept })
        : await call({ cmd: "sign_in", server, email, password, code: code || null, ...kept });
      // The address is not a secret; the password never leaves this form (only the refresh
      // token the service hands back is kept, where the person chose).
      localStorage.setItem("switchboard.server", server);
      onSignedIn(session, creating);
    } catch (err) {
      if (err instanceof ConsoleError && err.code === "two_factor_enrolment_required") {
        try {
          setEnrolment(await call({ cmd: "sign_in_enrol", server, email, password }));
          setCode("");
          return;
        } catch (again) {
          setError(signInMessage(again, false));
          return;
        }
      }
      setError(signInMessage(err, code !== null));
      if (err instanceof ConsoleError && err.code === "two_factor_required") setCode((c) => c ?? "");
      const refused = err instanceof ConsoleError && err.kind === "refused";
      setError(refused && !creating ? "That email and password do not match." : refused && err.code === "email_taken" ? "There is already an account with that email: sign in instead." : (err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="signin">
      <form onSubmit={submit} aria-label={creating ? "New business" : "Sign in"}>
        <h1>Switchboard</h1>
        <p className="muted">{creating ? "Create your business. A short setup follows; you can skip any step." : "Sign in to your front desk."}</p>
        <label>
          Server address
          <input name="server" value={server} onChange={(e) => setServer(e.target.value)} required />
        </label>
        {creating ? (
          <>
            <label>
              Business name
              <input name="business-name" value={business.business_name} onChange={(e) => setBusiness({ ...business, business_name: e.target.value })} required autoFocus />
            </label>
            <label>
              Time zone
              <input name="timezone" list="signup-zones" value={business.timezone} onChange={(e) => setBusiness({ ...business, timezone: e.target.value })} required />
            </label>
            <datalist id="signup-zones">{timeZones().map((z) => <option key={z} value={z} />)}</datalist>
            <label>
              Your name
              <input name="name" autoComplete="name" value={business.name} onChange={(e) => setBusiness({ ...business, name: e.target.value })} required />
            </label>
          </>
        ) : null}
        <label>
          Email
          <input name="email" type="email" autoComplete="username" value={email} onChange={(e) => setEmail(e.target.value)} required autoFocus={!creating} />
        </label>
        <label>
          Password
          <input name="password" type="password" autoComplete={creating ? "new-password" : "current-password"} value={password} onChange={(e) => setPassword(e.target.value)} required />
        </label>
        {code !== null ? (
          <label>
            Code from your authenticator app (or a recovery code)
            <input name="code" inputMode="numeric" autoComplete="one-time-code" value={code} onChange={(e) => setCode(e.target.value)} required autoFocus />
          </label>
        ) : null}
        {keyring ? null : (
          <fieldset className="keep" data-testid="keep-choice">
            <legend>This computer has no system keyring. Keep me signed in:</legend>
            <label className="inline">
              <input type="radio" name="keep" checked={keep === "file"} onChange={() => setKeep("file")} />
              with a passphrase (an encrypted file; asked when the console starts)
            </label>
            <label className="inline">
              <input type="radio" name="keep" checked={keep === "session"} onChange={() => setKeep("session")} />
              for this session only (sign in again next time)
            </label>
            {keep === "file" ? (
              <>
                <label>
                  Passphrase
                  <input name="passphrase" type="password" autoComplete="new-password" minLength={8} value={passphrase} onChange={(e) => setPassphrase(e.target.value)} required />
                </label>
                <label>
                  Passphrase again
                  <input name="passphrase-again" type="password" autoComplete="new-password" value={again} onChange={(e) => setAgain(e.target.value)} required />
                </label>
              </>
            ) : null}
          </fieldset>
        )}
        {error ? <p className="error" role="alert">{error}</p> : null}
        <button type="submit" className="primary" disabled={busy}>{busy ? (creating ? "Creating…" : "Signing in…") : creating ? "Create business" : "Sign in"}</button>
        <button type="button" className="link" onClick={() => { setCreating(!creating); setError(null); }}>
          {creating ? "I already have an account: sign in" : "New here? Create a business"}
        </button>
      </form>
    </main>
  );
}

/** After a restart, a sign-in kept in an encrypted file waits for its passphrase. */
export function Unlock({ session, onUnlocked, onSignOut, unsent }: { session: Session; onUnlocked: (s: Session) => void; onSignOut: (discard?: boolean) => void; unsent: string | null }) {
  const [passphrase, setPassphrase] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onUnlocked(await call({ cmd: "unlock", passphrase }));
    } catch (err) {
      setError(err instanceof ConsoleError && err.kind === "wrong_passphrase" ? "That passphrase does not open the saved sign-in." : (err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main className="signin">
      <form onSubmit={submit} aria-label="Unlock">
        <h1>Switchboard</h1>
        <p className="muted">{session.account?.email} on {session.account?.server} — the sign-in is kept in an encrypted file.</p>
        <label>
          Passphrase
          <input name="passphrase" type="password" autoComplete="current-password" value={passphrase} onChange={(e) => setPassphrase(e.target.value)} required autoFocus />
        </label>
        {error ? <p className="error" role="alert">{error}</p> : null}
        <button type="submit" className="primary" disabled={busy}>{busy ? "Unlocking…" : "Unlock"}</button>
        {unsent ? (
          <>
            <p className="error" role="alert">{unsent} Unlock to send first.</p>
            <button type="button" className="danger" onClick={() => onSignOut(true)}>Sign out anyway</button>
          </>
        ) : (
          <button type="button" className="link" onClick={() => onSignOut()}>Sign out instead</button>
        )}
      </form>
    </main>
  );
}
