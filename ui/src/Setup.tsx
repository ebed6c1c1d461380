// The first-run setup (see setup.ts): one step at a time, each with the real settings editor, a
// "Done" that moves on and a "Skip for now" that leaves it for later. Where it stands comes from
// the service, so closing the console, or opening it on another computer, resumes it.
import { useCallback, useEffect, useState } from "react";
import type { SetupProgress } from "./bindings/SetupProgress";
import type { SetupStep } from "./bindings/SetupStep";
import * as endpoints from "./endpoints";
import { Channels, Hours, Services, StaffSettings } from "./Settings";
import type { Permission } from "./bindings/Permission";
import { currentStep, nextStep, STEPS, stepsLeft, timeZones } from "./setup";

export function Setup({ onProgress, onClose, permissions }: { onProgress: (p: SetupProgress) => void; onClose: () => void; permissions: Permission[] }) {
  const [progress, setProgress] = useState<SetupProgress | null>(null);
  const [picked, setPicked] = useState<SetupStep | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(() => {
    endpoints.setup.get().then(
      (p) => {
        setProgress(p);
        onProgress(p);
        setError(null);
      },
      (e: Error) => setError(e.message),
    );
  }, [onProgress]);
  useEffect(load, [load]);

  if (error) return <main className="setup"><p className="error" role="alert">{error}</p><button onClick={load}>Try again</button></main>;
  if (!progress) return <main className="setup"><p className="muted">Loading…</p></main>;
  const step = currentStep(progress, picked);
  const info = STEPS.find((s) => s.step === step)!;

  const mark = async (state: "done" | "skipped") => {
    try {
      const p = await endpoints.setup.mark(step, state);
      setProgress(p);
      onProgress(p);
      const next = nextStep(p, step);
      if (next) setPicked(next);
      else onClose();
    } catch (e) {
      setError((e as Error).message);
    }
  };

  return (
    <main className="setup" aria-label="Setup">
      <nav className="setup-steps" aria-label="Setup steps">
        <h2>Set up your front desk</h2>
        <p className="muted">{stepsLeft(progress) === 0 ? "Nothing left to do; skipped steps wait here for later." : `${stepsLeft(progress)} of ${progress.steps.length} steps left. Everything else works meanwhile.`}</p>
        <ol>
          {progress.steps.map((s) => (
            <li key={s.step}>
              <button className={s.step === step ? "chip active" : "chip"} data-state={s.state} onClick={() => setPicked(s.step)}>
                {s.state === "done" ? "✓ " : s.state === "skipped" ? "↷ " : ""}
                {STEPS.find((x) => x.step === s.step)?.title}
                {s.state === "skipped" ? " (skipped)" : ""}
              </button>
            </li>
          ))}
        </ol>
        <button className="link" onClick={onClose}>Finish later</button>
      </nav>
      <section className="setup-body" data-step={step}>
        <h2>{info.title}</h2>
        <p className="muted">{info.why}</p>
        {step === "timezone" ? <TimeZone onSaved={() => mark("done")} /> : null}
        {step === "hours" ? <Hours /> : null}
        {step === "services" ? <Services /> : null}
        {step === "staff" ? <StaffSettings permissions={permissions} /> : null}
        {step === "channel" ? <Channels /> : null}
        <div className="setup-actions">
          {step !== "timezone" ? <button className="primary" onClick={() => mark("done")}>Done, next step</button> : null}
          <button onClick={() => mark("skipped")}>Skip for now</button>
        </div>
      </section>
    </main>
  );
}

function TimeZone({ onSaved }: { onSaved: () => void }) {
  const [zone, setZone] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    endpoints.business.get().then((b) => setZone(b.timezone), (e: Error) => setError(e.message));
  }, []);
  const zones = timeZones();
  if (zone === null) return error ? <p className="error" role="alert">{error}</p> : <p className="muted">Loading…</p>;
  const save = async () => {
    try {
      await endpoints.business.update({ timezone: zone.trim() });
      onSaved();
    } catch (e) {
      setError((e as Error).message);
    }
  };
  return (
    <div className="settings-panel">
      <label>
        Time zone of the business
        <input name="setup-timezone" list="setup-zones" value={zone} onChange={(e) => setZone(e.target.value)} />
      </label>
      <datalist id="setup-zones">{zones.map((z) => <option key={z} value={z} />)}</datalist>
      {error ? <p className="error" role="alert">{error}</p> : null}
      <button className="primary" onClick={save}>Save time zone</button>
    </div>
  );
}
