-- History vocabulary for suspect links: a live link marked suspect by a change at one of its ends, and a suspect
-- flag cleared by an editor with a reason. Enum values get their own migration, before the one that uses them.
-- Objects: public.history_event_type gains suspect_marked and suspect_cleared.

alter type public.history_event_type add value if not exists 'suspect_marked';
alter type public.history_event_type add value if not exists 'suspect_cleared';
