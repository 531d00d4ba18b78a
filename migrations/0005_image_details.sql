-- The manifest as the registry served it, and a summary of the image config (entrypoint,
-- command, environment, user, working directory, ports, build history) for the tag page.
-- Rows written before this migration have neither; reconcile fills them in.
alter table manifest add column manifest_json text;
alter table manifest add column config jsonb;

-- An event that failed for a reason that may pass (the registry unreachable) is retried;
-- these say how often, and why it last failed.
alter table registry_event add column attempts integer not null default 0;
alter table registry_event add column last_error text;

-- "Which multi-platform images include this digest" for the delete confirmation, per row of
-- a tags page: only a repository's indexes are looked at, not all its manifests. (The
-- predicate is repeated word for word by the query that uses it.)
create index manifest_multi_platform on manifest (repository_id)
    where media_type in ('application/vnd.oci.image.index.v1+json',
                         'application/vnd.docker.distribution.manifest.list.v2+json');

-- When Portcullis last wrote a tag, by the database's clock (pushed_at is the registry's):
-- reconcile leaves alone what was written after it started.
alter table tag add column updated_at timestamptz not null default now();

-- Reconcile asks whether a repository saw a delete since it started.
create index registry_event_deletes on registry_event (repository, processed_at) where action = 'delete';
