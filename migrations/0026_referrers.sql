-- The referrers API (OCI distribution-spec 1.1, issue 29): neither Distribution 2.8 nor 3.1
-- serves GET /v2/<name>/referrers/<digest>, so Portcullis does. The gate sees every manifest
-- PUT; one that names a `subject` is recorded here as it is accepted, so the answer is whole
-- at once (the registry's notification comes later). Deleting the manifest (through the gate,
-- or as Portcullis applies the registry's delete event) removes it.
create table referrer (
    repository text not null,
    -- The manifest it refers to, and its own digest.
    subject text not null,
    digest text not null,
    media_type text not null,
    size bigint not null,
    -- Its artifactType, or its config's media type when it has none.
    artifact_type text,
    annotations jsonb,
    created_at timestamptz not null default now(),
    primary key (repository, subject, digest)
);
create index referrer_digest on referrer (repository, digest);

create function referrer_forget() returns trigger language plpgsql as $$
begin
    delete from referrer
    where repository = (select name from repository where repository_id = old.repository_id)
      and digest = old.digest;
    return old;
end $$;
create trigger manifest_referrer_forget after delete on manifest
    for each row execute function referrer_forget();
