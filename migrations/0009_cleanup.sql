-- Cleanup policies (retention): which tags of a namespace's (or one repository's) images are
-- kept, the rest deleted from the registry on a schedule or on demand. A repository's own
-- policy wins over its namespace's.
create table cleanup_policy (
    cleanup_policy_id bigint generated always as identity primary key,
    namespace_id bigint not null references namespace (namespace_id) on delete cascade,
    -- Null: the namespace's policy.
    repository_id bigint references repository (repository_id) on delete cascade,
    enabled boolean not null default true,
    -- Keep the N most recently pushed tags (of those the policy covers).
    keep_last integer,
    -- Keep tags pushed or pulled within D days.
    keep_days integer,
    -- Tags the policy covers (a regular expression; others are always kept).
    include_pattern text not null default '.*',
    -- Tags always kept (a regular expression; empty: none).
    keep_pattern text not null default '',
    -- Hours between scheduled runs; 0: only on demand.
    schedule_hours integer not null default 0,
    last_run_at timestamptz,
    created_by text,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create unique index cleanup_policy_scope on cleanup_policy (namespace_id, coalesce(repository_id, 0));
create index cleanup_policy_repository on cleanup_policy (repository_id) where repository_id is not null;

-- Runs that deleted (not the dry runs): what went, for the namespace page and the log.
create table cleanup_run (
    cleanup_run_id bigint generated always as identity primary key,
    cleanup_policy_id bigint not null references cleanup_policy (cleanup_policy_id) on delete cascade,
    trigger text not null,
    started_at timestamptz not null default now(),
    finished_at timestamptz,
    deleted integer not null default 0,
    kept integer not null default 0,
    skipped integer not null default 0,
    bytes_freed bigint not null default 0,
    error text
);
create index cleanup_run_policy on cleanup_run (cleanup_policy_id, cleanup_run_id desc);
