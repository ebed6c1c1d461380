import { describe, expect, it } from "vitest";
import type { SetupProgress } from "./bindings/SetupProgress";
import type { SetupState } from "./bindings/SetupState";
import { currentStep, newBusinessProblems, nextStep, setupTab, stepsLeft, timeZones } from "./setup";

const progress = (...states: SetupState[]): SetupProgress => {
  const steps = (["timezone", "hours", "services", "staff", "channel"] as const).map((step, i) => ({ step, state: states[i] ?? "todo" }));
  return { steps, complete: steps.every((s) => s.state !== "todo") };
};

describe("first-run setup", () => {
  it("starts at the first step still to do, then the skipped ones", () => {
    expect(currentStep(progress(), null)).toBe("timezone");
    expect(currentStep(progress("done", "skipped", "done"), null)).toBe("staff");
    expect(currentStep(progress("done", "skipped", "done", "done", "done"), null)).toBe("hours");
    // A step the owner picked wins (resuming a skipped one).
    expect(currentStep(progress("done", "skipped"), "hours")).toBe("hours");
  });

  it("moves on to the next step to do, wrapping round, and ends when none is left", () => {
    expect(nextStep(progress("done"), "timezone")).toBe("hours");
    expect(nextStep(progress("todo", "done", "done", "done", "done"), "channel")).toBe("timezone");
    expect(nextStep(progress("done", "done", "done", "done", "skipped"), "channel")).toBeNull();
  });

  it("offers the setup in the top bar while steps are left, and to resume skipped ones", () => {
    expect(setupTab(null)).toBeNull();
    expect(setupTab(progress("done", "skipped"))).toBe("Setup (3 left)");
    expect(stepsLeft(progress("done", "skipped"))).toBe(3);
    expect(setupTab(progress("done", "skipped", "done", "done", "done"))).toBe("Setup");
    expect(setupTab(progress("done", "done", "done", "done", "done"))).toBeNull();
  });

  it("says what keeps a new business from being created", () => {
    const zones = timeZones();
    expect(zones).toContain("Europe/London");
    const ok = { business_name: "Nova Nails", timezone: "Europe/London", name: "Nova", email: "nova@example.com", password: "long enough" };
    expect(newBusinessProblems(ok, zones)).toEqual([]);
    expect(newBusinessProblems({ ...ok, business_name: " ", password: "short" }, zones)).toEqual(["The business needs a name.", "The password must be at least 8 characters long."]);
    expect(newBusinessProblems({ ...ok, timezone: "Mars/Olympus", email: "nova" }, zones)).toEqual([
      "That email address does not look right.",
      '"Mars/Olympus" is not a time zone (for example Europe/London).',
    ]);
    // Where the computer cannot list zones, the service decides.
    expect(newBusinessProblems({ ...ok, timezone: "Mars/Olympus" }, [])).toEqual([]);
  });
});
