-- The site's default storage quota, for namespaces without one of their own, set by
-- administrators (Admin → Settings, PUT /api/v1/default_quota). Null until they set it: the
-- configuration's default_quota_bytes applies. 0: no default quota.
alter table access_setting add column default_quota_bytes bigint
    constraint access_setting_default_quota check (default_quota_bytes >= 0);
