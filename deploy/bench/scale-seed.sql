-- The scale benchmark's data set, seeded straight into a migrated Portcullis database with
-- generate_series (deploy/bench/scale-bench.sh runs it). Shapes like a company registry:
--   * :users users, each with a personal team and namespace (every 7th public);
--   * :teams teams of 10 members each, owning :namespaces namespaces between them (a third
--     public, a third protected, a third private; `big` public);
--   * :repos repositories: 5,000 in the namespace `big`, 2,000 in the global namespace, the
--     rest spread over the team and personal namespaces;
--   * :tags tags each, on half as many images: every image has two tags (`1.N` and `1.N-main`),
--     one image in five is a multi-platform index whose two platform images are stored too,
--     and every image has labels (version, team, vcs ref);
--   * one repository (`big/monorepo`) with 50,000 tags;
--   * :events entries in the activity log, and a tag history for every tag.
-- psql -v users=10000 -v teams=1000 -v namespaces=5000 -v repos=100000 -v tags=10 -v events=1000000

\set ON_ERROR_STOP on
set client_min_messages = warning;
begin;

-- Without passwords (signing in is not what is measured; the benchmark signs in as root).
insert into "user" (username, display_name, email)
select 'user' || lpad(g::text, 5, '0'), 'User ' || g, 'user' || g || '@example.com'
from generate_series(1, :users) g;

insert into team (name, personal_user_id) select username, user_id from "user" where username like 'user%';
insert into team_member (team_id, user_id, role)
select team_id, personal_user_id, 'owner' from team where personal_user_id is not null
on conflict do nothing;
insert into namespace (name, team_id, visibility)
select t.name, t.team_id, case when t.personal_user_id % 7 = 0 then 'public' else 'private' end::visibility
from team t where t.personal_user_id is not null and t.name like 'user%';

insert into team (name, description) select 'team' || lpad(g::text, 4, '0'), 'Team number ' || g from generate_series(1, :teams) g;
-- Ten members a team: an owner, three contributors, six viewers.
insert into team_member (team_id, user_id, role)
select t.team_id, u.user_id, case when k = 0 then 'owner' when k < 4 then 'contributor' else 'viewer' end::team_role
from team t
cross join generate_series(0, 9) k
join "user" u on u.username = 'user' || lpad((1 + ((substr(t.name, 5)::int * 37 + k * 101) % :users))::text, 5, '0')
where t.name like 'team%'
on conflict do nothing;

insert into namespace (name, team_id, visibility, description)
select case when g = 1 then 'big' else 'ns' || lpad(g::text, 4, '0') end,
       (select team_id from team where name = 'team' || lpad((1 + g % :teams)::text, 4, '0')),
       case when g = 1 then 'public' else (array['public', 'protected', 'private'])[1 + g % 3] end::visibility,
       'Images of project ' || g
from generate_series(1, :namespaces) g;

-- Repositories: `big` gets 5,000, the global namespace 2,000, the rest go round the other
-- team namespaces and every 10th user's personal one.
create temporary table seed_ns as
select row_number() over (order by namespace_id) - 1 as k, namespace_id, name from namespace
where name like 'ns%' or (name like 'user%' and substr(name, 5)::int % 10 = 0);

insert into repository (name, namespace_id, description)
select 'big/service-' || lpad(g::text, 4, '0'), (select namespace_id from namespace where name = 'big'), 'Service ' || g
from generate_series(1, 5000) g;
insert into repository (name, namespace_id, description)
select 'library-' || lpad(g::text, 4, '0'), null, 'A shared base image, number ' || g from generate_series(1, 2000) g;
insert into repository (name, namespace_id, description)
select s.name || '/app-' || g, s.namespace_id, case when g % 3 = 0 then 'The ' || g || ' web application' else '' end
from generate_series(1, :repos - 7000) g
join seed_ns s on s.k = g % (select count(*) from seed_ns);

-- Images: :tags / 2 a repository; one in five an index of two platform images.
insert into manifest (repository_id, digest, media_type, size, created, os, architecture, platforms, labels, config_digest)
select r.repository_id,
       'sha256:' || md5(r.repository_id || '/' || i) || md5(i || '/' || r.repository_id),
       case when i % 5 = 0 then 'application/vnd.oci.image.index.v1+json' else 'application/vnd.oci.image.manifest.v1+json' end,
       (10 + (r.repository_id * 7 + i * 13) % 400) * 1048576,
       now() - make_interval(days => i),
       case when i % 5 = 0 then null else 'linux' end,
       case when i % 5 = 0 then null else 'amd64' end,
       case when i % 5 = 0 then jsonb_build_array(
                jsonb_build_object('os', 'linux', 'architecture', 'amd64', 'digest', 'sha256:' || md5(r.repository_id || '/a/' || i) || md5('a'), 'size', 1000),
                jsonb_build_object('os', 'linux', 'architecture', 'arm64', 'variant', 'v8', 'digest', 'sha256:' || md5(r.repository_id || '/b/' || i) || md5('b'), 'size', 1000))
            else jsonb_build_array(jsonb_build_object('os', 'linux', 'architecture', 'amd64')) end,
       jsonb_build_object('org.opencontainers.image.version', '1.' || i,
                          'org.opencontainers.image.revision', md5(r.name || i),
                          'team', 'team' || lpad((1 + r.repository_id % :teams)::text, 4, '0')),
       'sha256:' || md5('config' || r.repository_id || '/' || i) || md5('c')
from repository r cross join generate_series(1, greatest(:tags / 2, 1)) i;
-- The platform images of the indexes.
insert into manifest (repository_id, digest, media_type, size, os, architecture, platforms)
select m.repository_id, p->>'digest', 'application/vnd.oci.image.manifest.v1+json', 50 * 1048576, 'linux',
       p->>'architecture', jsonb_build_array(p - 'digest' - 'size')
from manifest m cross join jsonb_array_elements(m.platforms) p
where m.media_type = 'application/vnd.oci.image.index.v1+json';

-- Two tags an image: 1.N and 1.N-main (the CI's build of main), pushed at different times.
insert into tag (repository_id, name, digest, pushed_by, pushed_at, last_pulled_at)
select r.repository_id, '1.' || i || s.suffix,
       'sha256:' || md5(r.repository_id || '/' || i) || md5(i || '/' || r.repository_id),
       'user' || lpad((1 + (r.repository_id + i) % :users)::text, 5, '0'),
       now() - make_interval(hours => ((r.repository_id % 500) + i * 24 + s.k)::int),
       case when i % 2 = 0 then now() - make_interval(hours => i) end
from repository r
cross join generate_series(1, greatest(:tags / 2, 1)) i
cross join (values (0, ''), (1, '-main')) s (k, suffix);

-- One repository with 50,000 tags.
insert into repository (name, namespace_id, description)
select 'big/monorepo', namespace_id, 'Every build of the monorepo' from namespace where name = 'big';
insert into manifest (repository_id, digest, media_type, size, os, architecture, platforms, labels)
select r.repository_id, 'sha256:' || md5('mono' || g) || md5(g::text), 'application/vnd.oci.image.manifest.v1+json',
       100 * 1048576 + g, 'linux', 'amd64', '[{"os":"linux","architecture":"amd64"}]',
       jsonb_build_object('build', g::text, 'branch', case when g % 10 = 0 then 'main' else 'feature-' || (g % 97) end)
from repository r cross join generate_series(1, 25000) g where r.name = 'big/monorepo';
insert into tag (repository_id, name, digest, pushed_by, pushed_at)
select r.repository_id, 'build-' || g || s.suffix, 'sha256:' || md5('mono' || g) || md5(g::text), 'user00001',
       now() - make_interval(mins => g * 2 + s.k)
from repository r cross join generate_series(1, 25000) g cross join (values (0, ''), (1, '-sha')) s (k, suffix)
where r.name = 'big/monorepo';

-- The tags' history: each tag's push.
insert into tag_event (repository, tag, digest, actor, source, at)
select r.name, t.name, t.digest, t.pushed_by, 'push', t.pushed_at from tag t join repository r using (repository_id);

-- The activity log.
insert into audit_event (at, actor_id, actor_name, action, target_kind, target_name, namespace_id, details)
select now() - make_interval(secs => (:events - g) * 3.0), null, 'user' || lpad((1 + g % :users)::text, 5, '0'),
       (array['token.create', 'team.member.add', 'namespace.update', 'tag.delete', 'user.login'])[1 + g % 5],
       'namespace', 'ns' || lpad((1 + g % :namespaces)::text, 4, '0'),
       (select namespace_id from namespace where name = 'big') + (g % :namespaces), '{}'
from generate_series(1, :events) g;

commit;
-- As autovacuum would have left it: statistics and the visibility map.
vacuum analyze;
