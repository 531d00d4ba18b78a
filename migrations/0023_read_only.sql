-- Read-only mode (issue 29): while an administrator runs the registry's garbage collection,
-- pulls go on and every push and delete is refused, at the token endpoint and at the gate.
-- The message is the banner every page shows and what a refused client is told.
alter table access_setting add column read_only boolean not null default false;
alter table access_setting add column read_only_message text not null default ''
    constraint access_setting_read_only_message check (length(read_only_message) <= 500);
