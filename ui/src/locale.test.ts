import { describe, expect, it } from "vitest";
import { usableLanguage } from "./locale";

describe("the page's language", () => {
  it("keeps a real language tag and replaces what Intl refuses", () => {
    expect(usableLanguage("en-GB")).toBe("en-GB");
    expect(usableLanguage("de")).toBe("de");
    // What WebKitGTK reports under LANG=C or POSIX.
    expect(() => new Intl.NumberFormat("C")).toThrow(RangeError);
    expect(usableLanguage("C")).toBe("en-US");
    expect(usableLanguage(undefined)).toBe("en-US");
    expect(() => new Intl.NumberFormat(usableLanguage("C"))).not.toThrow();
  });
});
