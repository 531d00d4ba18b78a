-- People who sign in through an OpenID Connect provider: an account made just in time at their
-- first sign-in, linked to the provider's stable subject (never to a name or an email, which
-- the provider may reuse). The provider's refresh token, sealed like the signing keys, lets
-- Portcullis ask the provider now and then whether it still knows them.
alter table "user" drop constraint user_source_known;
alter table "user" add constraint user_source_known check (source in ('local', 'ldap', 'oidc'));

create table oidc_identity (
    provider text not null,
    subject text not null,
    user_id bigint not null references "user" on delete cascade,
    -- Sealed (AES-256-GCM with keys_encryption_key, when set); null when the provider gave none.
    refresh_token text,
    created_at timestamptz not null default now(),
    signed_in_at timestamptz not null default now(),
    -- When the provider last confirmed (by a refresh) that it still knows them.
    checked_at timestamptz,
    primary key (provider, subject)
);

create index oidc_identity_user on oidc_identity (user_id);
