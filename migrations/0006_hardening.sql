-- Hardening: bounded event history, throttles that cannot be turned into lockouts, images
-- recorded in part with the reason, reserved usernames, refresh tokens that age out, and a
-- certificate authority that can be replaced.

-- How many events the worker processed, by outcome, since the start. Written only by the
-- event worker (one replica at a time), so the inbox never waits on it; the Admin → Registry
-- page reads these instead of counting a table that holds weeks of events.
create table registry_event_count (
    outcome text primary key,
    n bigint not null default 0
);
insert into registry_event_count (outcome, n)
select o, (select count(*) from registry_event where outcome = o) from unnest(array['applied', 'skipped', 'failed']) o;

-- Processed events are pruned after a retention period, oldest first.
create index registry_event_processed on registry_event (processed_at) where processed_at is not null;

-- A manifest recorded with only part of its metadata (its config blob over the size limit,
-- an index with more entries than are read): why, so that reconcile does not try forever and
-- the tag page can say what is missing.
alter table manifest add column incomplete_reason text;

-- Throttles: when the last counted attempt was, for back-off.
alter table login_failure add column last_at timestamptz not null default now();

-- Names Portcullis itself uses as actors: its own registry calls ("portcullis"), entries
-- without a person ("system"), and visitors ("anonymous"). Existing rows are not checked.
alter table "user" add constraint user_username_reserved
    check (username not in ('portcullis', 'system', 'anonymous')) not valid;

-- Refresh tokens are looked up per user and client to keep their number bounded.
create index refresh_token_client on refresh_token (user_id, service, client_id, created_at desc);

-- A certificate authority that is published but not used yet: `portcullis keys rotate-ca`
-- stages one, the registry is restarted with both in its bundle, then it takes over.
alter table signing_key add column pending boolean not null default false;
