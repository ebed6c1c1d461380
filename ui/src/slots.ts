// Whether a time can be booked is the service's to say (hours, exceptions, buffers, every
// booking: the same check a booking is held to), asked through the console core's `check_slot`.
// This only turns its answer into what the calendar shows; offline, the booking is queued and
// the service decides when it arrives.
import { ConsoleError } from "./api";
import type { AvailabilityCheck } from "./bindings/AvailabilityCheck";

export type SlotState = { state: "checking" } | { state: "free" } | { state: "refused"; message: string } | { state: "unchecked"; message: string };

const UNCHECKED: Record<string, string> = {
  offline: "Offline: the service will check this time when the connection is back.",
  service: "The service could not check this time just now; it decides when the booking arrives.",
};

/** The service's answer to "can this time be booked?" as the calendar shows it. */
export function slotState(answer: AvailabilityCheck): SlotState {
  return answer.available ? { state: "free" } : { state: "refused", message: answer.message ?? "That time cannot be booked." };
}

/** A failed check: offline (or the service down) leaves it to the service; a refusal says why. */
export function slotError(e: unknown): SlotState {
  if (e instanceof ConsoleError && e.kind in UNCHECKED) return { state: "unchecked", message: UNCHECKED[e.kind] };
  return { state: "refused", message: e instanceof Error ? e.message : String(e) };
}

/** Whether booking may go ahead: the service said yes, or it will decide when it is reachable. */
export const mayBook = (s: SlotState) => s.state === "free" || s.state === "unchecked";
