-- Directory groups that become teams: an administrator maps a group (its DN, or its name, the
-- value of its first RDN) to a team with a role, or to the administrators. At each directory
-- sign-in the person's memberships follow their groups.
create table group_mapping (
    group_mapping_id bigint generated always as identity primary key,
    -- Compared without case.
    group_name text not null check (length(group_name) between 1 and 1024),
    team_id bigint references team (team_id) on delete cascade,
    role team_role,
    grants_admin boolean not null default false,
    created_at timestamptz not null default now(),
    constraint group_mapping_target check ((team_id is null) = (role is null) and (team_id is not null or grants_admin))
);
create unique index group_mapping_key on group_mapping (lower(group_name), coalesce(team_id, 0));

-- Memberships made by a group mapping (kept apart from those people made by hand: a sync
-- adds and removes only its own), and administrators made by one.
alter table team_member add column synced boolean not null default false;
alter table "user" add column admin_synced boolean not null default false;
