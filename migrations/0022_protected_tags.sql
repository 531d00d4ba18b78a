-- Protected tags (issue 29, GitLab's model): a rule whose tags only members of at least a
-- role (or administrators) may push (create or move) and delete.
alter table tag_rule drop constraint tag_rule_kind;
alter table tag_rule add constraint tag_rule_kind check (kind in ('immutable', 'protected'));
-- For a protected rule: the least role that may push and delete a tag it covers
-- ('contributor', 'owner', or 'admin' for administrators only). Null for immutable rules.
alter table tag_rule add column push_role text constraint tag_rule_push_role check (push_role in ('contributor', 'owner', 'admin'));
alter table tag_rule add column delete_role text constraint tag_rule_delete_role check (delete_role in ('contributor', 'owner', 'admin'));
alter table tag_rule add constraint tag_rule_roles check ((kind = 'protected') = (push_role is not null and delete_role is not null));
