-- Control-plane tables: API keys and their usage, export jobs, notifications,
-- session recordings.

-- A change to a key is a new row with a later updated_at; deletion sets is_deleted.
-- Read with FINAL. Only the SHA-256 of a key is stored.
CREATE TABLE IF NOT EXISTS api_keys
(
    key_hash              String,
    key_id                UUID,
    key_prefix            String,
    name                  String,
    owner_id              LowCardinality(String),
    allowed_domains       Array(String),
    rate_limit_per_minute UInt32,
    active                Bool,
    is_deleted            UInt8,
    created_at            DateTime64(3, 'UTC'),
    updated_at            DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at, is_deleted)
ORDER BY key_hash;

-- Usage aggregated in memory by ingest and flushed every few seconds, one row per key
-- and minute per flush; merges sum the counters and keep the latest use.
CREATE TABLE IF NOT EXISTS api_key_usage
(
    key_id       UUID,
    owner_id     LowCardinality(String),
    minute       DateTime('UTC'),
    requests     SimpleAggregateFunction(sum, UInt64),
    events       SimpleAggregateFunction(sum, UInt64),
    last_used_at SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (owner_id, key_id, minute)
TTL minute + INTERVAL 400 DAY;

CREATE TABLE IF NOT EXISTS export_jobs
(
    job_id       UUID,
    owner_id     LowCardinality(String),
    requested_by String,
    report       LowCardinality(String),
    params       String,
    status       LowCardinality(String),
    attempts     UInt16,
    error        String,
    object_key   String,
    download_url String,
    created_at   DateTime64(3, 'UTC'),
    updated_at   DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (owner_id, job_id);

CREATE TABLE IF NOT EXISTS notification_log
(
    notification_id UUID,
    owner_id        LowCardinality(String),
    channel         LowCardinality(String),
    kind            LowCardinality(String),
    subject         String,
    payload         String,
    status          LowCardinality(String),
    error           String,
    sent_at         DateTime64(3, 'UTC')
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(sent_at)
ORDER BY (owner_id, sent_at)
TTL toDateTime(sent_at) + INTERVAL 90 DAY;

CREATE TABLE IF NOT EXISTS session_recordings
(
    recording_id UUID,
    owner_id     LowCardinality(String),
    key_id       UUID,
    session_id   String,
    page_view_id String,
    url          String,
    object_key   String,
    content_type LowCardinality(String),
    size_bytes   UInt64,
    started_at   DateTime64(3, 'UTC'),
    uploaded_at  DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(uploaded_at)
PARTITION BY toYYYYMM(started_at)
ORDER BY (owner_id, session_id, recording_id)
TTL toDateTime(started_at) + INTERVAL 30 DAY;
