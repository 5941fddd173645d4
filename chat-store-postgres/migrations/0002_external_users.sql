-- Version 2: users vouched for by the host application (see chat_core::ExternalUser) are linked
-- to their id there, `external_id`; the chat's own accounts have none (NULL). A partial unique
-- index: one user per external id, found by it, and no entry for every local account.

ALTER TABLE users ADD COLUMN external_id TEXT;
CREATE UNIQUE INDEX users_external_id_unique ON users (external_id) WHERE external_id IS NOT NULL;
