-- The manifest gate's tag rules (issue 29): what a registry token cannot say, because it
-- names a repository and never a tag. An immutable rule: once a tag it matches exists, the
-- tag never moves and is never deleted (a push of the same digest again still passes).
create table tag_rule (
    tag_rule_id bigint generated always as identity primary key,
    namespace_id bigint not null references namespace (namespace_id) on delete cascade,
    -- The repositories within the namespace it covers: a glob on the path after the
    -- namespace ("app", "tools/*"); "*" for all of them.
    repositories text not null default '*',
    -- The tags it covers: a glob ("v*", "release-*", "prod").
    tags text not null,
    kind text not null default 'immutable' constraint tag_rule_kind check (kind in ('immutable')),
    created_by text not null,
    created_at timestamptz not null default now(),
    constraint tag_rule_once unique (namespace_id, repositories, tags, kind)
);
