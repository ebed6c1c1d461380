// A proposed time is free for a staff member when it overlaps none of their bookings (the
// service decides for real; this keeps the calendar from offering what it would refuse).
export interface Busy {
  id: string;
  start: Date;
  end: Date;
  resourceId: string;
}

export function isFree(busy: Busy[], wanted: { start: Date; end: Date; staffId: string }, ignoreId?: string): boolean {
  return !busy.some((b) => b.id !== ignoreId && b.resourceId === wanted.staffId && b.start < wanted.end && wanted.start < b.end);
}
