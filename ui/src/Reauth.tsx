// "Confirm it is you": the password (or a code from the authenticator app) asked again before a
// sensitive action. The dialog only collects it; `sensitive` (privacy.ts) sends it to the service
// and runs the action — offline it says a re-authentication needs the network.
import { useRef, useState, type FormEvent, type ReactNode } from "react";
import { call } from "./api";
import { sensitive, sensitiveIfAsked, type Proof, type SensitiveResult } from "./privacy";

interface Asking {
  what: string;
  resolve: (proof: Proof | null) => void;
}

/** `run(what, action)` asks, re-authenticates and acts (with `onlyIfAsked`: acts, and asks only
 * when the service wants a fresh proof); `dialog` is rendered where it should show. */
export function useSensitive(): [<T>(what: string, action: () => Promise<T>, onlyIfAsked?: boolean) => Promise<SensitiveResult<T>>, ReactNode] {
  const [asking, setAsking] = useState<Asking | null>(null);
  const [wrong, setWrong] = useState(false);
  const attempts = useRef(0);
  const run = async <T,>(what: string, action: () => Promise<T>, onlyIfAsked = false) => {
    attempts.current = 0;
    setWrong(false);
    const result = await (onlyIfAsked ? sensitiveIfAsked<T> : sensitive<T>)({
      ask: () =>
        new Promise<Proof | null>((resolve) => {
          setWrong(attempts.current > 0);
          attempts.current += 1;
          setAsking({ what, resolve });
        }),
      reauthenticate: (proof) => call({ cmd: "reauthenticate", password: "password" in proof ? proof.password : null, code: "code" in proof ? proof.code : null }),
      action,
    });
    setAsking(null);
    return result;
  };
  const dialog = asking ? (
    <ReauthDialog
      what={asking.what}
      wrong={wrong}
      onAnswer={(proof) => {
        asking.resolve(proof);
        if (!proof) setAsking(null);
      }}
    />
  ) : null;
  return [run, dialog];
}

function ReauthDialog({ what, wrong, onAnswer }: { what: string; wrong: boolean; onAnswer: (proof: Proof | null) => void }) {
  const [useCode, setUseCode] = useState(false);
  const [secret, setSecret] = useState("");
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const value = secret;
    setSecret("");
    onAnswer(useCode ? { code: value.trim() } : { password: value });
  };
  return (
    <div className="modal-backdrop">
      <form className="modal" role="dialog" aria-label="Confirm it is you" onSubmit={submit}>
        <h3>Confirm it is you</h3>
        <p>{what} needs your {useCode ? "authenticator code" : "password"} again.</p>
        {wrong ? <p className="error" role="alert">That was not right. Try again.</p> : null}
        {useCode ? (
          <label>
            Code from your authenticator app
            <input name="reauth-code" inputMode="numeric" autoComplete="one-time-code" value={secret} onChange={(e) => setSecret(e.target.value)} required autoFocus />
          </label>
        ) : (
          <label>
            Password
            <input name="reauth-password" type="password" autoComplete="current-password" value={secret} onChange={(e) => setSecret(e.target.value)} required autoFocus />
          </label>
        )}
        <button type="button" className="link" onClick={() => { setUseCode(!useCode); setSecret(""); }}>
          {useCode ? "Use my password instead" : "Use a code from my authenticator app instead"}
        </button>
        <div className="modal-actions">
          <button type="button" onClick={() => onAnswer(null)}>Cancel</button>
          <button type="submit" className="primary">Confirm</button>
        </div>
      </form>
    </div>
  );
}
