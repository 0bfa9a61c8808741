-- Console sign-ins. Only the SHA-256 of the session cookie is stored, with the hash of
-- the user token it was opened with (a replaced token ends its sessions) and the CSRF
-- token of its forms. Signing out writes a newer row with `revoked`; rows go a day after
-- they expire.
CREATE TABLE IF NOT EXISTS console_sessions
(
    session_hash String,
    user_id      UUID,
    token_hash   String,
    csrf         String,
    created_at   DateTime64(3, 'UTC'),
    expires_at   DateTime64(3, 'UTC'),
    revoked      Bool,
    updated_at   DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY session_hash
TTL toDateTime(expires_at) + INTERVAL 1 DAY;
