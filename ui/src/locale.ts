// The page's language as `Intl` accepts it. Started with a system locale of C or POSIX (a server,
// a kiosk, a CI machine), WebKitGTK reports `navigator.language` as "C", which is no language tag:
// the Reports screen's chart library formats numbers with it when it loads, threw a RangeError, and
// the whole window went blank. Imported first, before anything reads the language.

/** `tag` if `Intl` takes it, else `fallback`. */
export function usableLanguage(tag: string | undefined, fallback = "en-US"): string {
  if (!tag) return fallback;
  try {
    return Intl.getCanonicalLocales(tag)[0] ?? fallback;
  } catch {
    return fallback;
  }
}

if (typeof navigator !== "undefined" && usableLanguage(navigator.language, "") === "") {
  const language = usableLanguage(undefined);
  const languages = (navigator.languages ?? []).map((l) => usableLanguage(l, "")).filter(Boolean);
  Object.defineProperty(navigator, "language", { configurable: true, get: () => language });
  Object.defineProperty(navigator, "languages", { configurable: true, get: () => (languages.length ? languages : [language]) });
}
