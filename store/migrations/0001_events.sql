-- The three event tables the consumers write and analysts query.
--
-- Duplicates: every event carries a client-generated event_id. The tables are
-- ReplacingMergeTree with event_id last in the sorting key, so a redelivered event
-- collapses into one row at merge time; read with FINAL (or LIMIT 1 BY event_id) for
-- exact counts before merges ran. Consumers also send an insert_deduplication_token
-- per (table, partition, offset range), which drops a re-sent identical block at once.
--
-- owner_id and key_id come from the API key at ingest, never from the client payload.

CREATE TABLE IF NOT EXISTS friction_events
(
    event_id         UUID,
    owner_id         LowCardinality(String),
    key_id           UUID,
    session_id       String,
    page_view_id     String,
    event_type       LowCardinality(String),
    timestamp        DateTime64(3, 'UTC'),
    client_timestamp DateTime64(3, 'UTC'),
    received_at      DateTime64(3, 'UTC'),
    clock_corrected  Bool,
    url              String,
    host             LowCardinality(String),
    path             String,
    selector         String,
    element_tag      LowCardinality(String),
    x                Int32,
    y                Int32,
    click_count      UInt32,
    error_message    String,
    error_source     String,
    error_line       UInt32,
    error_column     UInt32,
    error_stack      String CODEC(ZSTD(3)),
    error_count      UInt32,
    form             String,
    field_name       String,
    field_type       LowCardinality(String),
    validity         Array(LowCardinality(String)),
    viewport_width   UInt32,
    viewport_height  UInt32,
    user_agent       String CODEC(ZSTD(3)),
    client_ip        String,
    batch_id         UUID,
    screenshot_url   String DEFAULT '',
    INDEX idx_session session_id TYPE bloom_filter(0.01) GRANULARITY 4
)
ENGINE = ReplacingMergeTree(received_at)
PARTITION BY toYYYYMM(timestamp)
ORDER BY (owner_id, event_type, toDate(timestamp), path, event_id)
TTL toDateTime(timestamp) + INTERVAL 400 DAY
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS heatmap_data
(
    event_id         UUID,
    owner_id         LowCardinality(String),
    key_id           UUID,
    session_id       String,
    page_view_id     String,
    event_type       LowCardinality(String),
    timestamp        DateTime64(3, 'UTC'),
    client_timestamp DateTime64(3, 'UTC'),
    received_at      DateTime64(3, 'UTC'),
    clock_corrected  Bool,
    url              String,
    host             LowCardinality(String),
    path             String,
    referrer         String,
    navigation_type  LowCardinality(String),
    selector         String,
    element_tag      LowCardinality(String),
    x                Int32,
    y                Int32,
    client_x         Int32,
    client_y         Int32,
    viewport_width   UInt32,
    viewport_height  UInt32,
    scroll_x         Int32,
    scroll_y         Int32,
    user_agent       String CODEC(ZSTD(3)),
    client_ip        String,
    batch_id         UUID,
    INDEX idx_session session_id TYPE bloom_filter(0.01) GRANULARITY 4
)
ENGINE = ReplacingMergeTree(received_at)
PARTITION BY toYYYYMM(timestamp)
ORDER BY (owner_id, path, event_type, toDate(timestamp), event_id)
TTL toDateTime(timestamp) + INTERVAL 180 DAY
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS page_performance_metrics
(
    event_id         UUID,
    owner_id         LowCardinality(String),
    key_id           UUID,
    session_id       String,
    page_view_id     String,
    metric_name      LowCardinality(String),
    value            Float64,
    timestamp        DateTime64(3, 'UTC'),
    client_timestamp DateTime64(3, 'UTC'),
    received_at      DateTime64(3, 'UTC'),
    clock_corrected  Bool,
    url              String,
    host             LowCardinality(String),
    path             String,
    viewport_width   UInt32,
    viewport_height  UInt32,
    user_agent       String CODEC(ZSTD(3)),
    client_ip        String,
    batch_id         UUID
)
ENGINE = ReplacingMergeTree(received_at)
PARTITION BY toYYYYMM(timestamp)
ORDER BY (owner_id, path, metric_name, toDate(timestamp), event_id)
TTL toDateTime(timestamp) + INTERVAL 400 DAY
SETTINGS non_replicated_deduplication_window = 1000;
