-- First run (issue 16, point 7): where a new business stands in its short setup (time zone,
-- opening hours, services, invite staff, connect a channel). Kept by the service, not the
-- console, so the setup follows the owner to another computer and survives a reinstall.
-- One row per step the owner marked `done` or `skipped`; a step with no row is still to do
-- (unless the business's own data already shows it done: a service, an invitation, a channel).
CREATE TABLE setup_steps (
    business_id     TEXT NOT NULL REFERENCES businesses(id), -- not personal
    step            TEXT NOT NULL, -- not personal
    state           TEXT NOT NULL, -- not personal
    updated_at      BIGINT NOT NULL, -- not personal
    PRIMARY KEY (business_id, step)
);
