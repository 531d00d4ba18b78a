-- The signature policy (issue 29): a namespace may require that every image pulled from it
-- carries a cosign signature ("simple signing", found through the sha256-<digest>.sig tag)
-- that verifies against one of the namespace's trusted public keys. The manifest gate checks
-- each manifest GET; the tag page says "signed by <key>", "signature invalid" or "unsigned".
create table signature_policy (
    namespace_id bigint primary key references namespace (namespace_id) on delete cascade,
    required boolean not null,
    set_by text not null,
    set_at timestamptz not null default now()
);

create table trusted_key (
    trusted_key_id bigint generated always as identity primary key,
    namespace_id bigint not null references namespace (namespace_id) on delete cascade,
    name text not null,
    -- As given: PEM "PUBLIC KEY" (SubjectPublicKeyInfo), ECDSA P-256 (cosign's keys).
    public_key text not null,
    -- SHA-256 of the key's DER, hex: the same key is trusted once per namespace.
    fingerprint text not null,
    added_by text not null,
    added_at timestamptz not null default now(),
    constraint trusted_key_name unique (namespace_id, name),
    constraint trusted_key_once unique (namespace_id, fingerprint)
);

-- Who pushed which manifest through the gate into a namespace that requires signatures: the
-- pusher may pull it unsigned for a short grace window, so that CI can sign what it just
-- pushed (cosign reads the image before it signs it). Rows older than the window are pruned
-- at each push.
create table gate_push (
    repository text not null,
    digest text not null,
    pushed_by text not null,
    pushed_at timestamptz not null default now(),
    primary key (repository, digest, pushed_by)
);
create index gate_push_at on gate_push (pushed_at);
