-- History events of the team: organisations, memberships, invitations, projects and their settings. Each value is
-- added on its own (alter type ... add value cannot be used in the transaction that adds it, so the migrations
-- that write these events come after this file).
-- Objects: new values of public.history_event_type.
-- Security: none (vocabulary only).

alter type public.history_event_type add value if not exists 'organization_created';
alter type public.history_event_type add value if not exists 'organization_renamed';
alter type public.history_event_type add value if not exists 'member_added';
alter type public.history_event_type add value if not exists 'member_role_changed';
alter type public.history_event_type add value if not exists 'member_removed';
alter type public.history_event_type add value if not exists 'invitation_created';
alter type public.history_event_type add value if not exists 'invitation_accepted';
alter type public.history_event_type add value if not exists 'invitation_declined';
alter type public.history_event_type add value if not exists 'invitation_expired';
alter type public.history_event_type add value if not exists 'project_created';
alter type public.history_event_type add value if not exists 'project_updated';
alter type public.history_event_type add value if not exists 'project_archived';
alter type public.history_event_type add value if not exists 'project_unarchived';
alter type public.history_event_type add value if not exists 'settings_changed';
