-- Where a mapped group comes from: 'ldap' (the directory) or 'oidc:<provider>'. Only that
-- source's groups match a mapping. Null: a mapping made before sources existed; it matches
-- nothing until its source is known (given at start when only one source is configured, or
-- picked by an administrator on Admin → Authentication, which flags it).
alter table group_mapping add column source text
    constraint group_mapping_source_known check (source = 'ldap' or source like 'oidc:_%');
-- How the group is named: a directory group by its full DN ('dn') or, chosen explicitly, by its
-- name anywhere in the directory ('name'); a provider's by its groups claim value ('value').
-- Mappings made before: by name when what was written is no DN, as they matched then.
alter table group_mapping add column match_by text not null default 'dn'
    constraint group_mapping_match_by_known check (match_by in ('dn', 'name', 'value'));
update group_mapping set match_by = 'name' where group_name not like '%=%';
drop index group_mapping_key;
create unique index group_mapping_key on group_mapping (coalesce(source, ''), lower(group_name), coalesce(team_id, 0));

-- The next time a scheduled cleanup is due, worked out once after each save and run (which
-- clear it) instead of walking the schedule minute by minute every minute.
alter table cleanup_policy add column next_run_at timestamptz;

-- A webhook's URL in the activity log: its scheme and host only (the path and query of a Slack,
-- Teams or CI trigger URL are a bearer secret). Webhook URLs carry no credentials (refused).
update audit_event set details = jsonb_set(details, '{url}', to_jsonb(coalesce(substring(details ->> 'url' from '^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*'), '')))
where action = 'webhook.create' and details ? 'url';
