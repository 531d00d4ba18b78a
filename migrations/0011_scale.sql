-- Indexes for a registry of Harbor's size (100,000 repositories, a million tags, a million
-- entries in the activity log), each used by a plan checked with EXPLAIN ANALYZE on the
-- data set of deploy/bench/scale-seed.sql (README, "Performance").

-- Search finds repositories by a word of their description too.
create index repository_description_trgm on repository using gin (description gin_trgm_ops);

-- The activity log is read newest first by id, a stretch at a time (`before=`): the primary
-- key serves the whole log, these its filters.
drop index audit_event_at;
drop index audit_event_namespace;
drop index audit_event_action;
create index audit_event_namespace on audit_event (namespace_id, audit_event_id desc) where namespace_id is not null;
create index audit_event_action on audit_event (action text_pattern_ops, audit_event_id desc);
create index audit_event_actor on audit_event (actor_name, audit_event_id desc);
create index audit_event_target_trgm on audit_event using gin (target_name gin_trgm_ops);

-- Search finds images by a word of their labels' keys and values.
create index manifest_labels_trgm on manifest using gin ((labels::text) gin_trgm_ops);

-- A repository's tags by name, any page, read from the index alone (page 1,000 of 50,000 tags:
-- 35 ms with a visit to each row before, 5 ms since).
alter table tag drop constraint tag_repository_name_key,
    add constraint tag_repository_name_key unique (repository_id, name) include (tag_id);
