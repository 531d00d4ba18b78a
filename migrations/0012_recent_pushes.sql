-- The dashboard's recent pushes are ordered by (pushed_at desc, tag_id desc). An index on
-- pushed_at alone left the tie-break to an incremental sort, which PostgreSQL ran with
-- parallel workers: 52 ms for the newest ten of a million tags, 1 ms read from this index.
drop index tag_pushed;
create index tag_pushed on tag (pushed_at desc, tag_id desc);
