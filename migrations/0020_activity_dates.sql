-- The activity log is filtered by date (Admin → Activity, its CSV export): the entries of a
-- day range are found through their time, not by walking every newer entry.
create index audit_event_at on audit_event (at);
