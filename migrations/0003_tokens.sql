-- The token service: signing keys (a private CA and the keys it certifies) and refresh tokens.

create table signing_key (
    signing_key_id bigint generated always as identity primary key,
    kind text not null constraint signing_key_kind check (kind in ('ca', 'signing')),
    alg text not null constraint signing_key_alg check (alg in ('ES256', 'RS256')),
    -- libtrust key id of the public key.
    kid text not null constraint signing_key_kid_key unique,
    -- PKCS#8 PEM. A secret: never logged, never leaves the server.
    private_key_pem text not null,
    certificate_pem text not null,
    not_after timestamptz not null,
    created_at timestamptz not null default now(),
    -- No longer used to sign; published until its last token has expired.
    retired_at timestamptz
);

-- Long-lived credentials clients keep instead of a password (docker's identity token).
create table refresh_token (
    refresh_token_id bigint generated always as identity primary key,
    user_id bigint not null references "user" (user_id) on delete cascade,
    -- The registry service the token was issued for.
    service text not null,
    client_id text not null default '',
    token_hash bytea not null constraint refresh_token_hash_key unique,
    display_prefix text not null,
    -- The user's auth epoch at issue: a password change or disable voids the token.
    auth_epoch integer not null,
    created_at timestamptz not null default now(),
    last_used_at timestamptz,
    revoked_at timestamptz
);
create index refresh_token_user on refresh_token (user_id);
