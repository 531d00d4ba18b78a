-- The access model: teams and their members, namespaces, machine access tokens, the audit
-- log and the site's access settings.

create type team_role as enum ('viewer', 'contributor', 'owner');
create type visibility as enum ('private', 'protected', 'public');

create table team (
    team_id bigint generated always as identity primary key,
    name text not null
        constraint team_name_grammar check (
            name ~ '^[a-z0-9]+([._-][a-z0-9]+)*$' and length(name) between 2 and 64
        ),
    description text not null default '',
    -- Every user has a hidden personal team (named after them) owning their personal namespace.
    personal_user_id bigint unique references "user" (user_id) on delete cascade,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
-- Names of visible teams are unique; a personal team may share its user's name.
create unique index team_name_key on team (name) where personal_user_id is null;
create trigger team_updated_at before update on team for each row execute function set_updated_at();

create table team_member (
    team_id bigint not null references team (team_id) on delete cascade,
    user_id bigint not null references "user" (user_id) on delete cascade,
    role team_role not null,
    created_at timestamptz not null default now(),
    primary key (team_id, user_id)
);
create index team_member_user on team_member (user_id);

create table namespace (
    namespace_id bigint generated always as identity primary key,
    name text not null
        constraint namespace_name_key unique
        constraint namespace_name_grammar check (
            name ~ '^[a-z0-9]+([._-][a-z0-9]+)*$' and length(name) between 2 and 64
        ),
    team_id bigint not null references team (team_id) on delete restrict,
    visibility visibility not null default 'private',
    description text not null default '',
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index namespace_team on namespace (team_id);
create trigger namespace_updated_at before update on namespace for each row execute function set_updated_at();

-- Every existing user gets a personal team and namespace, as new users will.
insert into team (name, personal_user_id) select username, user_id from "user";
insert into team_member (team_id, user_id, role) select team_id, personal_user_id, 'owner' from team;
insert into namespace (name, team_id) select name, team_id from team;

create table access_token (
    access_token_id bigint generated always as identity primary key,
    user_id bigint not null references "user" (user_id) on delete cascade,
    name text not null constraint access_token_name_length check (length(name) between 1 and 100),
    -- SHA-256 of the whole secret; the secret itself is shown once and never stored.
    token_hash bytea not null constraint access_token_hash_key unique,
    -- The first characters of the secret, to recognise it in lists.
    display_prefix text not null,
    -- Restriction to some namespaces (null: every namespace the user may use).
    namespace_ids bigint[],
    pull_only boolean not null default false,
    expires_at timestamptz,
    last_used_at timestamptz,
    created_by bigint references "user" (user_id) on delete set null,
    created_at timestamptz not null default now(),
    revoked_at timestamptz
);
create index access_token_user on access_token (user_id);

create table audit_event (
    audit_event_id bigint generated always as identity primary key,
    at timestamptz not null default now(),
    actor_id bigint references "user" (user_id) on delete set null,
    -- Kept as text so the log still reads right after the actor is gone.
    actor_name text not null,
    action text not null,
    target_kind text not null,
    target_name text not null,
    namespace_id bigint references namespace (namespace_id) on delete set null,
    details jsonb not null default '{}'
);
create index audit_event_at on audit_event (at desc);
create index audit_event_namespace on audit_event (namespace_id, at desc) where namespace_id is not null;
create index audit_event_action on audit_event (action, at desc);

-- Site-wide access settings, editable by administrators (one row). Defaults come from the
-- configuration file the first time the server starts.
create table access_setting (
    singleton boolean primary key default true constraint access_setting_singleton check (singleton),
    push_policy text not null constraint access_setting_push_policy check (
        push_policy in ('allow-teams', 'allow-personal', 'admin-only')
    ),
    delete_enabled boolean not null,
    contributors_may_delete boolean not null,
    users_may_create_teams boolean not null,
    users_may_create_namespaces boolean not null,
    users_may_change_visibility boolean not null,
    updated_at timestamptz not null default now()
);
