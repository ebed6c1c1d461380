import { useState, type FormEvent } from "react";
import { wordsProblem, wordsToAdd } from "./words";

/** Labels on a conversation or tags on a customer: each with a remove button, and a box to add
 * more (comma-separated). Changes go through the outbox, so they work offline. */
export function WordsEditor({ words, what, max, onChange }: { words: string[]; what: "label" | "tag"; max: number; onChange: (add: string[], remove: string[]) => Promise<unknown> }) {
  const [typed, setTyped] = useState("");
  const [error, setError] = useState<string | null>(null);
  const change = async (add: string[], remove: string[]) => {
    setError(null);
    try {
      await onChange(add, remove);
    } catch (e) {
      setError((e as Error).message);
    }
  };
  const add = (e: FormEvent) => {
    e.preventDefault();
    const adding = wordsToAdd(typed, words);
    const problem = wordsProblem(adding, max, what);
    if (problem) return setError(problem);
    setTyped("");
    if (adding.length) change(adding, []);
  };
  return (
    <form className="words" onSubmit={add} aria-label={what === "label" ? "Labels" : "Tags"} data-testid={`${what}s`}>
      {words.map((w) => (
        <span key={w} className={what === "label" ? "label" : "chip"} data-testid={what}>
          {w}
          <button type="button" aria-label={`Remove ${what} ${w}`} onClick={() => change([], [w])}>×</button>
        </span>
      ))}
      <input aria-label={`Add ${what}`} placeholder={`+ ${what}`} value={typed} onChange={(e) => setTyped(e.target.value)} />
      {error ? <span className="error" role="alert">{error}</span> : null}
    </form>
  );
}
