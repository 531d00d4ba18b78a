-- Where an account comes from: made here (sign-up, an administrator, the command line), or
-- just in time at the first sign-in through the directory (LDAP). A directory account has no
-- password here: the directory checks it, and only the directory changes it.
alter table "user" add column source text not null default 'local'
    constraint user_source_known check (source in ('local', 'ldap'));
