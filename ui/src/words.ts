// Labels on conversations and tags on customers as staff type them: "vip, wedding party" adds
// two; the same word twice, or one that is already there, adds nothing. The console core merges
// additions and removals on the service, so two desks editing offline both keep theirs.

/** The words typed in an "add" box (comma-separated, trimmed, without repeats or ones already on). */
export function wordsToAdd(typed: string, current: readonly string[]): string[] {
  const out: string[] = [];
  for (const raw of typed.split(",")) {
    const word = raw.trim().replace(/\s+/g, " ");
    if (word && !current.includes(word) && !out.includes(word)) out.push(word);
  }
  return out;
}

/** Why the typed words cannot be added (the service's limits), or null. */
export function wordsProblem(words: readonly string[], max: number, what: string): string | null {
  const long = words.find((w) => [...w].length > max);
  return long ? `A ${what} is at most ${max} characters (“${long.slice(0, 20)}…”).` : null;
}
