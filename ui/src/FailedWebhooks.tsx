// The banner owners and admins see above every screen when the service kept incoming webhooks it
// could not process: how many, each one's reason, and a Retry button (once the cause is fixed).
import { useCallback, useEffect, useState } from "react";
import { ConsoleError } from "./api";
import type { FailedWebhook } from "./bindings/FailedWebhook";
import { webhookEvents } from "./endpoints";
import { afterRetry, bannerText } from "./webhooks";

/** How often the list is asked for again (failed events are not synced: the service keeps them). */
const REFRESH_MS = 60_000;

export function FailedWebhooks() {
  const [failed, setFailed] = useState<FailedWebhook[]>([]);
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(() => {
    webhookEvents.failed().then(setFailed, () => {});
  }, []);
  useEffect(() => {
    load();
    const timer = setInterval(load, REFRESH_MS);
    return () => clearInterval(timer);
  }, [load]);

  async function retry(id: string) {
    setBusy(id);
    setError(null);
    try {
      await webhookEvents.retry(id);
      setFailed((now) => afterRetry(now, id));
    } catch (e) {
      setError(e instanceof ConsoleError ? e.message : String(e));
    } finally {
      setBusy(null);
    }
  }

  const text = bannerText(failed);
  if (!text) return null;
  return (
    <section className="failed-webhooks" role="alert" aria-label="Failed incoming messages">
      <strong>{text.headline}</strong>
      <ul>
        {text.lines.map((line) => (
          <li key={line.id}>
            <span className="reason">{line.text}</span>
            <button disabled={busy !== null} onClick={() => retry(line.id)}>{busy === line.id ? "Retrying…" : "Retry"}</button>
          </li>
        ))}
      </ul>
      {error ? <p className="error">{error}</p> : null}
    </section>
  );
}
