-- Tag history: every move of a tag (pushed to a digest, moved to another, deleted, put back),
-- by whom and how it was learnt. Kept by repository name, not id, so that a repository deleted
-- and pushed again keeps its past. Written by the same statements that change `tag`.
create table tag_event (
    tag_event_id bigint generated always as identity primary key,
    repository text not null,
    tag text not null,
    -- What the tag points at after the move; null when it was deleted.
    digest text,
    -- What it pointed at before; null when it was new.
    previous_digest text,
    -- The verified user who moved it, when known (a push's token subject, the deleting user).
    actor text,
    -- push | delete | reconcile | restore
    source text not null,
    at timestamptz not null default now()
);
-- One tag's history and one repository's, newest first; pruning by age.
create index tag_event_tag on tag_event (repository, tag, tag_event_id desc);
create index tag_event_repository on tag_event (repository, tag_event_id desc);
create index tag_event_at on tag_event (at);

-- What is known already: each tag's current digest, as of its last push.
insert into tag_event (repository, tag, digest, actor, source, at)
select r.name, t.name, t.digest, t.pushed_by, 'push', t.pushed_at
from tag t join repository r using (repository_id);
