-- Images: what is in the registry, kept in step by its notifications and by reconcile.

create extension if not exists pg_trgm;

create table repository (
    repository_id bigint generated always as identity primary key,
    -- The full path in the registry: "alice/hello", or "hello" in the global namespace.
    name text not null constraint repository_name_key unique,
    -- Null for the global namespace (names without a "/").
    namespace_id bigint references namespace (namespace_id) on delete cascade,
    description text not null default '',
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index repository_namespace on repository (namespace_id);
create index repository_name_trgm on repository using gin (name gin_trgm_ops);
create trigger repository_updated_at before update on repository for each row execute function set_updated_at();

-- A manifest (image or index) as stored in one repository.
create table manifest (
    manifest_id bigint generated always as identity primary key,
    repository_id bigint not null references repository (repository_id) on delete cascade,
    digest text not null,
    media_type text not null,
    -- Compressed size: the sum of the layers (of every platform, for an index).
    size bigint not null default 0,
    -- From the image config.
    created timestamptz,
    os text,
    architecture text,
    -- For an index: [{os, architecture, variant, digest, size}]; for an image, its own platform.
    platforms jsonb not null default '[]',
    labels jsonb not null default '{}',
    annotations jsonb not null default '{}',
    config_digest text,
    -- [{mediaType, digest, size}]
    layers jsonb not null default '[]',
    -- A cosign signature tag (sha256-<digest>.sig) exists for it.
    signed boolean not null default false,
    created_at timestamptz not null default now(),
    constraint manifest_repository_digest_key unique (repository_id, digest)
);
create index manifest_labels on manifest using gin (labels jsonb_path_ops);

create table tag (
    tag_id bigint generated always as identity primary key,
    repository_id bigint not null references repository (repository_id) on delete cascade,
    name text not null,
    digest text not null,
    -- The verified actor of the push (the token's subject), when known.
    pushed_by text,
    pushed_at timestamptz not null default now(),
    last_pulled_at timestamptz,
    constraint tag_repository_name_key unique (repository_id, name)
);
create index tag_repository_pushed on tag (repository_id, pushed_at desc, tag_id desc);
create index tag_repository_digest on tag (repository_id, digest);
create index tag_name_trgm on tag using gin (name gin_trgm_ops);
create index tag_pushed on tag (pushed_at desc);

-- Every notification the registry sent, stored before it is acknowledged.
create table registry_event (
    registry_event_id bigint generated always as identity primary key,
    event_id text not null constraint registry_event_event_id_key unique,
    received_at timestamptz not null default now(),
    action text not null default '',
    repository text not null default '',
    raw jsonb not null,
    processed_at timestamptz,
    -- applied | skipped | failed
    outcome text,
    reason text
);
create index registry_event_pending on registry_event (registry_event_id) where processed_at is null;

-- Secrets Portcullis generates for itself (the registry's notification secret).
create table app_secret (
    name text primary key,
    value text not null,
    created_at timestamptz not null default now()
);

-- Runs of the catalog reconcile.
create table sync_run (
    sync_run_id bigint generated always as identity primary key,
    started_at timestamptz not null default now(),
    finished_at timestamptz,
    trigger text not null,
    repositories integer not null default 0,
    tags_added integer not null default 0,
    tags_updated integer not null default 0,
    tags_removed integer not null default 0,
    repositories_removed integer not null default 0,
    error text
);
