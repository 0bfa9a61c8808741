-- Uploads: session recordings gain their duration; screenshots are linked to friction
-- events by (owner_id, event_id) in a Join table.
--
-- Why a Join table read through an ALIAS column: a screenshot and its event arrive on
-- separate paths (an upload to ingest, a batch through Kafka), in either order. With
-- screenshot_url computed at read time from the link, analysts reading friction_events
-- (FINAL or not) see the URL as soon as both exist, whichever came first, with no update
-- of event rows, no lookup on the consumers' hot path and no race between the two. The
-- link is keyed by owner too, so an upload under one key can never attach to another
-- owner's event. The Join engine keeps its rows in memory (and on disk): about 150 bytes
-- per screenshot.
ALTER TABLE session_recordings ADD COLUMN IF NOT EXISTS duration_ms UInt64 DEFAULT 0;

CREATE TABLE IF NOT EXISTS screenshot_links
(
    owner_id    String,
    event_id    UUID,
    url         String,
    session_id  String,
    key_id      UUID,
    size_bytes  UInt64,
    uploaded_at DateTime64(3, 'UTC')
)
ENGINE = Join(ANY, LEFT, owner_id, event_id)
SETTINGS join_any_take_last_row = 1;

ALTER TABLE friction_events MODIFY COLUMN IF EXISTS screenshot_url String
    ALIAS ifNull(joinGetOrNull('screenshot_links', 'url', toString(owner_id), event_id), '');
