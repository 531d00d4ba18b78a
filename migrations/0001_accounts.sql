-- Accounts: users and the login throttle. Sessions live in the tower_sessions schema,
-- created by the session store's own migration at start-up.

create function set_updated_at() returns trigger language plpgsql as $$
begin
    new.updated_at = now();
    return new;
end;
$$;

create table "user" (
    user_id bigint generated always as identity primary key,
    -- The registry's path-component grammar, 2 to 64 characters (see app::model).
    username text not null
        constraint user_username_key unique
        constraint user_username_grammar check (
            username ~ '^[a-z0-9]+([._-][a-z0-9]+)*$' and length(username) between 2 and 64
        ),
    display_name text not null default '',
    email text,
    -- argon2id PHC string; null for bot users, who sign in with tokens only.
    password_hash text,
    is_admin boolean not null default false,
    is_enabled boolean not null default true,
    is_bot boolean not null default false,
    -- Bumped on password change and disable: sessions carrying an older value are void.
    auth_epoch integer not null default 0,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

create unique index user_email_key on "user" (lower(email)) where email is not null;

create trigger user_updated_at before update on "user"
    for each row execute function set_updated_at();

-- Failed logins per key ("user:<name>" or "addr:<ip>"), counted in a sliding window.
create table login_failure (
    key text primary key,
    failures integer not null,
    window_start timestamptz not null default now()
);
