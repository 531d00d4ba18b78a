-- Cleanup policies run on a cron schedule (five fields or @daily, in UTC) instead of every N
-- hours, and may delete the images no tag points at any more.
alter table cleanup_policy
    -- Delete the images no tag points at any more (that the tags' history knows of).
    add column delete_untagged boolean not null default false,
    -- When it runs by itself: a cron schedule in UTC ("0 3 * * 0", "@daily"); empty: only on
    -- demand.
    add column schedule text not null default '';

-- The hours of the earlier form, said as the nearest schedule: daily and weekly as before,
-- anything else every N hours at minute 0 (capped at the day).
update cleanup_policy set schedule = case
    when schedule_hours <= 0 then ''
    when schedule_hours = 168 then '@weekly'
    when schedule_hours >= 24 then '@daily'
    else '0 */' || schedule_hours || ' * * *'
end;

alter table cleanup_policy drop column schedule_hours;
