-- Lists of namespaces and search, measured with deploy/bench/scale-bench.sh (15,000
-- namespaces) and EXPLAIN ANALYZE.

-- Search finds namespaces by a substring of their name or description, as it finds
-- repositories: through trigram indexes, not by testing every namespace (3 ms for 15,000
-- namespaces, twice a search page: the count and the page; 0.1 ms through these).
create index namespace_name_trgm on namespace using gin (name gin_trgm_ops);
create index namespace_description_trgm on namespace using gin (description gin_trgm_ops);

-- A page of namespaces by name is found by walking the names in order with what the
-- visibility filter needs beside each, from the index alone; only that page's rows are then
-- read and joined to their teams. Joining and sorting all 15,000 to keep 50 took 21 ms for
-- page 200, this 2 ms.
create index namespace_name_listed on namespace (name) include (namespace_id, visibility, team_id);

-- The same for repositories: explore and the REST list walk the names in order, skipping
-- those the principal may not pull from, with the namespace beside each name; page 500 of
-- explore walked 75,000 rows of the table for it.
create index repository_name_listed on repository (name) include (namespace_id, repository_id);
