-- Outbound webhooks: what a namespace's owners (or, site-wide, administrators) want told of
-- its images, and every delivery, queued here and sent by a worker on any replica.
create table webhook (
    webhook_id bigint generated always as identity primary key,
    -- Null: every namespace (administrators only).
    namespace_id bigint references namespace (namespace_id) on delete cascade,
    name text not null,
    url text not null,
    -- Of push, delete, pull.
    events text[] not null,
    -- portcullis | cloudevents
    format text not null default 'portcullis',
    -- The signing secret and the custom headers (a JSON object), both encrypted with the
    -- keys' encryption key when one is set.
    secret text not null,
    headers text not null,
    header_names text[] not null default '{}',
    enabled boolean not null default true,
    created_by text,
    created_at timestamptz not null default now()
);
create index webhook_namespace on webhook (namespace_id);

create table webhook_delivery (
    webhook_delivery_id bigint generated always as identity primary key,
    webhook_id bigint not null references webhook (webhook_id) on delete cascade,
    -- push | delete | pull | test
    event text not null,
    payload jsonb not null,
    -- pending | delivered | failed
    state text not null default 'pending',
    attempts integer not null default 0,
    -- When it is due; while a worker sends it, a lease a little ahead.
    next_attempt_at timestamptz not null default now(),
    last_status integer,
    last_error text,
    response_ms integer,
    response_body text,
    created_at timestamptz not null default now(),
    delivered_at timestamptz
);
-- What is due, for the workers; a webhook's log, newest first; pruning by age.
create index webhook_delivery_due on webhook_delivery (next_attempt_at) where state = 'pending';
create index webhook_delivery_log on webhook_delivery (webhook_id, webhook_delivery_id desc);
create index webhook_delivery_created on webhook_delivery (created_at);
