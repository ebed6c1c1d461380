import { useState, type FormEvent } from "react";
import { call, ConsoleError } from "./api";
import type { Session } from "./bindings/Session";

export function SignIn({ onSignedIn }: { onSignedIn: (s: Session) => void }) {
  const [server, setServer] = useState(() => localStorage.getItem("switchboard.server") ?? "http://127.0.0.1:8080");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const session = await call({ cmd: "sign_in", server, email, password });
      // The address is not a secret; the password never leaves this form (the keyring keeps
      // only the refresh token the service hands back).
      localStorage.setItem("switchboard.server", server);
      onSignedIn(session);
    } catch (err) {
      setError(err instanceof ConsoleError && err.kind === "refused" ? "That email and password do not match." : (err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="signin">
      <form onSubmit={submit} aria-label="Sign in">
        <h1>Switchboard</h1>
        <p className="muted">Sign in to your front desk.</p>
        <label>
          Server address
          <input name="server" value={server} onChange={(e) => setServer(e.target.value)} required />
        </label>
        <label>
          Email
          <input name="email" type="email" autoComplete="username" value={email} onChange={(e) => setEmail(e.target.value)} required autoFocus />
        </label>
        <label>
          Password
          <input name="password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} required />
        </label>
        {error ? <p className="error" role="alert">{error}</p> : null}
        <button type="submit" className="primary" disabled={busy}>{busy ? "Signing in…" : "Sign in"}</button>
      </form>
    </main>
  );
}
