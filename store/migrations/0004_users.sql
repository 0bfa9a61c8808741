-- Users of the control plane and their roles. A change is a new row with a later
-- updated_at; read with FINAL. Only the SHA-256 of a user's bearer token is stored.
CREATE TABLE IF NOT EXISTS users
(
    user_id    UUID,
    email      String,
    role       LowCardinality(String),
    active     Bool,
    token_hash String,
    created_at DateTime64(3, 'UTC'),
    updated_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY user_id;

-- Site keys are publishable (every page that embeds the SDK carries one), so the key
-- itself is kept for the console's show/copy; lookups still go through key_hash.
ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS key_secret String DEFAULT '';
