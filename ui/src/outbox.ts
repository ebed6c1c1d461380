import type { MutationOp } from "./bindings/MutationOp";

/** An outbox entry as a sentence: what the person did. */
export function describeMutation(op: MutationOp): string {
  const quote = (t: string) => (t.length > 60 ? `“${t.slice(0, 60)}…”` : `“${t}”`);
  switch (op.name) {
    case "send_message":
      return `Reply ${quote(op.args.body)}`;
    case "send_media":
      return op.args.caption ? `File ${quote(op.args.caption)}` : "File";
    case "use_canned_response":
      return "Canned reply";
    case "send_template":
      return "WhatsApp template";
    case "take_over":
      return "Take over a conversation";
    case "hand_back":
      return "Hand a conversation back to the assistant";
    case "mark_read":
      return "Mark as read";
    case "set_status":
      return op.args.status === "resolved" ? "Resolve a conversation" : "Reopen a conversation";
    case "assign":
      return op.args.staff_id ? "Assign a conversation" : "Unassign a conversation";
    case "label_conversation":
      return wordsChange("Label", op.args.add, op.args.remove);
    case "tag_customer":
      return wordsChange("Tag", op.args.add, op.args.remove);
    case "add_note":
      return `Note ${quote(op.args.body)}`;
    case "create_booking":
      return "New booking";
    case "reschedule_booking":
      return "Move a booking";
    case "cancel_booking":
      return "Cancel a booking";
    case "confirm_booking":
      return "Mark a booking confirmed";
    case "update_customer":
      return "Edit a customer";
    case "create_customer":
      return `New customer ${quote(op.args.customer.name ?? op.args.customer.phone ?? "")}`;
    case "start_conversation":
      return op.args.body ? `First message ${quote(op.args.body)}` : "First message (WhatsApp template)";
  }
}

/** "Label +vip −colour" */
function wordsChange(what: string, add: string[], remove: string[]): string {
  return [what, ...add.map((w) => `+${w}`), ...remove.map((w) => `−${w}`)].join(" ");
}
