-- What a console pulls depends on its person's role (an agent's leaves out invitations), so what
-- a console pulled before a role change was chosen for the old role. The seq of the change-log
-- entry that last changed the role (0: never changed): a pull from a cursor below it answers
-- resync_required, and the console reloads what the new role may read.
ALTER TABLE staff ADD COLUMN role_seq BIGINT NOT NULL DEFAULT 0;  -- not personal
