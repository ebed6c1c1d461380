-- Who made a one-time account token for someone else: an owner's or admin's reset of a
-- colleague's sign-in (NULL for what people get for themselves: their own reset mail, their
-- verification mail, their sign-in challenges). A reset link ends with its issuer's right to make
-- it — when they are deactivated, or no longer allowed to manage staff (or owners, for an owner's
-- link) — like the invitations they sent; `revoked_at` says it was withdrawn rather than used.
ALTER TABLE account_tokens ADD COLUMN issued_by TEXT REFERENCES staff(id);  -- not personal
ALTER TABLE account_tokens ADD COLUMN revoked_at BIGINT;                    -- not personal
CREATE INDEX account_tokens_issued_by ON account_tokens(issued_by) WHERE issued_by IS NOT NULL;
