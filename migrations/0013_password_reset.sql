-- Password reset links: a user asks for one by email, or an administrator sends one. Only the
-- token's SHA-256 is kept; a link works once, for an hour, and no longer once the user's
-- password changed another way (auth_epoch).
create table password_reset (
    password_reset_id bigint generated always as identity primary key,
    user_id bigint not null references "user" (user_id) on delete cascade,
    token_hash bytea not null constraint password_reset_token_key unique,
    -- The user's auth_epoch when the link was made: any password change since voids it.
    auth_epoch integer not null,
    -- The administrator who sent it; null when the user asked.
    requested_by bigint references "user" (user_id) on delete set null,
    created_at timestamptz not null default now(),
    expires_at timestamptz not null,
    used_at timestamptz
);
create index password_reset_user on password_reset (user_id, created_at desc);
