-- Rollups for what dashboards and reports read often. Materialized views aggregate each
-- inserted block into AggregatingMergeTree tables.
--
-- Counts use uniqExact(event_id) states, so a redelivered event is never counted twice,
-- whatever the consumers replay. Percentiles are quantile states over the inserted values:
-- a rare redelivered metric adds one sample to a t-digest, which does not move a p75.

CREATE TABLE IF NOT EXISTS friction_hourly
(
    owner_id   LowCardinality(String),
    hour       DateTime('UTC'),
    event_type LowCardinality(String),
    host       LowCardinality(String),
    path       String,
    events     AggregateFunction(uniqExact, UUID),
    sessions   AggregateFunction(uniq, String)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (owner_id, hour, event_type, host, path)
TTL hour + INTERVAL 400 DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS friction_hourly_mv TO friction_hourly AS
SELECT
    owner_id,
    toStartOfHour(timestamp) AS hour,
    event_type,
    host,
    path,
    uniqExactState(event_id) AS events,
    uniqState(session_id) AS sessions
FROM friction_events
GROUP BY owner_id, hour, event_type, host, path;

CREATE TABLE IF NOT EXISTS performance_hourly
(
    owner_id    LowCardinality(String),
    hour        DateTime('UTC'),
    metric_name LowCardinality(String),
    host        LowCardinality(String),
    path        String,
    samples     AggregateFunction(uniqExact, UUID),
    quantiles   AggregateFunction(quantilesTDigest(0.5, 0.75, 0.9, 0.95, 0.99), Float64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (owner_id, hour, metric_name, host, path)
TTL hour + INTERVAL 400 DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS performance_hourly_mv TO performance_hourly AS
SELECT
    owner_id,
    toStartOfHour(timestamp) AS hour,
    metric_name,
    host,
    path,
    uniqExactState(event_id) AS samples,
    quantilesTDigestState(0.5, 0.75, 0.9, 0.95, 0.99)(value) AS quantiles
FROM page_performance_metrics
GROUP BY owner_id, hour, metric_name, host, path;

-- Clicks per page on a 10-pixel grid, per viewport width class, per day.
CREATE TABLE IF NOT EXISTS heatmap_points_daily
(
    owner_id       LowCardinality(String),
    day            Date,
    host           LowCardinality(String),
    path           String,
    viewport_class LowCardinality(String),
    grid_x         Int32,
    grid_y         Int32,
    clicks         AggregateFunction(uniqExact, UUID)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (owner_id, host, path, day, viewport_class, grid_x, grid_y)
TTL day + INTERVAL 180 DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS heatmap_points_daily_mv TO heatmap_points_daily AS
SELECT
    owner_id,
    toDate(timestamp) AS day,
    host,
    path,
    multiIf(viewport_width = 0, 'unknown', viewport_width < 768, 'mobile', viewport_width < 1200, 'tablet', 'desktop') AS viewport_class,
    intDiv(x, 10) * 10 AS grid_x,
    intDiv(y, 10) * 10 AS grid_y,
    uniqExactState(event_id) AS clicks
FROM heatmap_data
WHERE event_type = 'click'
GROUP BY owner_id, day, host, path, viewport_class, grid_x, grid_y;
