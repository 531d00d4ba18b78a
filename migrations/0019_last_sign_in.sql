-- When each person last signed in to the web interface (any way: password, directory,
-- identity provider), for the administrators' list of users. Written once per sign-in, never
-- on a registry token request (the hot path stays read-only).
alter table "user" add column last_sign_in_at timestamptz;
