-- A conversation can be assigned to a staff member ("Sam will deal with this"), independent of
-- who holds it: assignment says whose job it is, holding says who is typing in it now.
ALTER TABLE conversations ADD COLUMN assignee_staff_id TEXT REFERENCES staff(id);
