// The first run of a new business: creating it from the sign-in screen, then a short setup
// (time zone, opening hours, services, invite staff, connect a channel). The service keeps where
// the setup stands (`/v1/setup`), so it survives a restart and follows the owner to another
// computer; any step can be skipped and resumed, and the rest of the console works throughout.
import type { SetupProgress } from "./bindings/SetupProgress";
import type { SetupStep } from "./bindings/SetupStep";

export const STEPS: { step: SetupStep; title: string; why: string }[] = [
  { step: "timezone", title: "Time zone", why: "Opening hours, bookings and reminders are in this time zone." },
  { step: "hours", title: "Opening hours", why: "The assistant only offers times inside these hours." },
  { step: "services", title: "Services", why: "What customers can book, how long it takes and what it costs." },
  { step: "staff", title: "Invite staff", why: "Colleagues get an invitation by email and see the same inbox." },
  { step: "channel", title: "Connect a channel", why: "WhatsApp, SMS or a voice assistant: where customers reach you." },
];

export const stepTitle = (step: SetupStep) => STEPS.find((s) => s.step === step)?.title ?? step;

/** Steps still to do (skipped ones are handled, for later). */
export function stepsLeft(progress: SetupProgress | null): number {
  return progress ? progress.steps.filter((s) => s.state === "todo").length : 0;
}

/** What the top bar offers: "Setup (2 left)" while steps are to do, a plain "Setup" while some
 * were skipped (to resume them), nothing once every step is done. */
export function setupTab(progress: SetupProgress | null): string | null {
  if (!progress) return null;
  const left = stepsLeft(progress);
  if (left > 0) return `Setup (${left} left)`;
  return progress.steps.some((s) => s.state === "skipped") ? "Setup" : null;
}

/** The step to show: the one picked, else the first still to do, else the first skipped one. */
export function currentStep(progress: SetupProgress, picked: SetupStep | null): SetupStep {
  if (picked) return picked;
  return (progress.steps.find((s) => s.state === "todo") ?? progress.steps.find((s) => s.state === "skipped") ?? progress.steps[0]).step;
}

/** The step after `step` that still needs the owner, or null when there is none. */
export function nextStep(progress: SetupProgress, step: SetupStep): SetupStep | null {
  const i = progress.steps.findIndex((s) => s.step === step);
  const after = progress.steps.slice(i + 1).concat(progress.steps.slice(0, Math.max(i, 0)));
  return after.find((s) => s.state === "todo")?.step ?? null;
}

export interface NewBusiness {
  business_name: string;
  timezone: string;
  name: string;
  email: string;
  password: string;
}

/** What keeps the new-business form from being sent, in words (the service checks again). */
export function newBusinessProblems(b: NewBusiness, zones: string[]): string[] {
  const problems: string[] = [];
  if (!b.business_name.trim()) problems.push("The business needs a name.");
  if (!b.name.trim()) problems.push("Your name is missing.");
  if (!/^[^@\s]+@[^@\s]+$/.test(b.email.trim())) problems.push("That email address does not look right.");
  if ([...b.password].length < 8) problems.push("The password must be at least 8 characters long.");
  if (zones.length > 0 && !zones.includes(b.timezone.trim())) problems.push(`"${b.timezone}" is not a time zone (for example Europe/London).`);
  return problems;
}

/** The IANA time zones this computer knows (empty where it cannot list them: the service checks). */
export function timeZones(): string[] {
  const intl = Intl as unknown as { supportedValuesOf?: (key: string) => string[] };
  try {
    const zones = intl.supportedValuesOf?.("timeZone") ?? [];
    return zones.includes("UTC") ? zones : [...zones, "UTC"];
  } catch {
    return [];
  }
}

/** This computer's own time zone: the likely answer for a new business. */
export function localTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}
