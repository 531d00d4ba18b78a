-- Storage quotas (issue 29, part 4). A namespace's usage is the bytes of the distinct blobs
-- (layers and configs) its recorded manifests refer to: a layer shared by two images, or by
-- two repositories of the namespace, counts once. Kept up to date by triggers on `manifest`
-- (so every writer of manifests keeps it right without knowing), and rebuilt by reconcile.

-- The size of an image's config blob (its layers' are in `layers`). Null for an index, and for
-- manifests recorded before this column (their configs, a few KB each, are not counted until
-- pushed again).
alter table manifest add column config_size bigint;

-- Each blob a namespace's manifests refer to, with how many of them do.
create table namespace_blob (
    namespace_id bigint not null references namespace (namespace_id) on delete cascade,
    digest text not null,
    size bigint not null,
    refs integer not null constraint namespace_blob_refs check (refs > 0),
    primary key (namespace_id, digest)
);

-- The sum of a namespace's blobs, kept beside them so that reading it costs one row.
create table namespace_usage (
    namespace_id bigint primary key references namespace (namespace_id) on delete cascade,
    bytes bigint not null default 0,
    -- The percentage of the limit last told to webhooks (QUOTA_WARNING, QUOTA_EXCEEDED), so each
    -- crossing is told once.
    told_percent integer not null default 0
);

-- A namespace's own limit, set by administrators. Without a row, the site-wide default
-- (configuration: `default_quota`) holds, if any.
create table namespace_quota (
    namespace_id bigint primary key references namespace (namespace_id) on delete cascade,
    limit_bytes bigint not null constraint namespace_quota_limit check (limit_bytes >= 0),
    set_by text not null,
    set_at timestamptz not null default now()
);

-- The blobs a manifest refers to, each digest once.
create function manifest_blobs(layers jsonb, config_digest text, config_size bigint)
returns table (digest text, size bigint) language sql immutable as $$
    select distinct on (b.digest) b.digest, b.size from (
        select l ->> 'digest' as digest, coalesce((l ->> 'size')::bigint, 0) as size
        from jsonb_array_elements(case when jsonb_typeof(layers) = 'array' then layers else '[]' end) l
        where l ->> 'digest' is not null
        union all
        select config_digest, config_size where config_digest is not null and config_size is not null
    ) b order by b.digest
$$;

create function namespace_blobs_add(ns bigint, layers jsonb, config_digest text, config_size bigint)
returns void language plpgsql as $$
begin
    if ns is null then return; end if;
    with added as (
        insert into namespace_blob (namespace_id, digest, size, refs)
        select ns, b.digest, b.size, 1 from manifest_blobs(layers, config_digest, config_size) b
        on conflict (namespace_id, digest) do update set refs = namespace_blob.refs + 1
        returning namespace_blob.size, (xmax = 0) as fresh
    )
    insert into namespace_usage (namespace_id, bytes)
    select ns, coalesce(sum(a.size) filter (where a.fresh), 0) from added a
    on conflict (namespace_id) do update set bytes = namespace_usage.bytes + excluded.bytes;
end $$;

create function namespace_blobs_remove(ns bigint, layers jsonb, config_digest text, config_size bigint)
returns void language plpgsql as $$
declare
    freed bigint;
begin
    if ns is null then return; end if;
    update namespace_blob nb set refs = nb.refs - 1
    from manifest_blobs(layers, config_digest, config_size) b
    where nb.namespace_id = ns and nb.digest = b.digest and nb.refs > 1;
    with gone as (
        delete from namespace_blob nb using manifest_blobs(layers, config_digest, config_size) b
        where nb.namespace_id = ns and nb.digest = b.digest and nb.refs = 1
        returning nb.size
    )
    select coalesce(sum(size), 0) into freed from gone;
    update namespace_usage set bytes = greatest(bytes - freed, 0) where namespace_id = ns;
end $$;

create function manifest_counts_toward_quota() returns trigger language plpgsql as $$
begin
    if tg_op in ('UPDATE', 'DELETE') then
        perform namespace_blobs_remove(
            (select namespace_id from repository where repository_id = old.repository_id),
            old.layers, old.config_digest, old.config_size);
    end if;
    if tg_op in ('INSERT', 'UPDATE') then
        perform namespace_blobs_add(
            (select namespace_id from repository where repository_id = new.repository_id),
            new.layers, new.config_digest, new.config_size);
    end if;
    return null;
end $$;

create trigger manifest_quota_insert after insert on manifest
    for each row execute function manifest_counts_toward_quota();
create trigger manifest_quota_delete after delete on manifest
    for each row execute function manifest_counts_toward_quota();
create trigger manifest_quota_update after update of layers, config_digest, config_size, repository_id on manifest
    for each row when (old.layers is distinct from new.layers or old.config_digest is distinct from new.config_digest
                       or old.config_size is distinct from new.config_size or old.repository_id <> new.repository_id)
    execute function manifest_counts_toward_quota();

-- A repository's manifests go before it does, while the triggers can still see its namespace
-- (a cascade would delete them after).
create function repository_manifests_go_first() returns trigger language plpgsql as $$
begin
    delete from manifest where repository_id = old.repository_id;
    return old;
end $$;
create trigger repository_manifests_first before delete on repository
    for each row execute function repository_manifests_go_first();

-- What is recorded already.
insert into namespace_blob (namespace_id, digest, size, refs)
select r.namespace_id, b.digest, min(b.size), count(*)
from manifest m join repository r using (repository_id), manifest_blobs(m.layers, m.config_digest, m.config_size) b
where r.namespace_id is not null
group by r.namespace_id, b.digest;
insert into namespace_usage (namespace_id, bytes)
select namespace_id, sum(size) from namespace_blob group by namespace_id;
