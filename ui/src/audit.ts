import type { AuditEntry } from "./bindings/AuditEntry";

/** The audit log's filters: who did it (a staff id), the kind of action (the part before the
 * dot: `booking`, `staff`, `customer`…) and words found in the action or the target's id. */
export function filterAudit(entries: AuditEntry[], f: { staffId: string | null; kind: string | null; text: string }): AuditEntry[] {
  const words = f.text.toLowerCase().split(/\s+/).filter(Boolean);
  return entries.filter((e) => {
    if (f.staffId && e.actor_staff_id !== f.staffId) return false;
    if (f.kind && e.action.split(".")[0] !== f.kind) return false;
    const hay = `${e.action} ${e.target_kind ?? ""} ${e.target_id ?? ""}`.toLowerCase();
    return words.every((w) => hay.includes(w));
  });
}
