-- The store schema as authsense wrote it at schema version 1 (before
-- migration 2): tests/store/migrate.rs builds a v1 database from it.
CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts INTEGER NOT NULL,
    uid TEXT NOT NULL UNIQUE,
    gateway_ip TEXT NOT NULL,
    original_mailfrom TEXT,
    from_address TEXT,
    sender_domain TEXT,
    subject TEXT,
    spf_result TEXT,
    auth_source TEXT NOT NULL,
    msg_id TEXT,
    record TEXT NOT NULL
);
CREATE INDEX messages_ts ON messages (ts);
CREATE INDEX messages_gateway_ip ON messages (gateway_ip, ts);
CREATE INDEX messages_original_mailfrom ON messages (original_mailfrom);
CREATE INDEX messages_from_address ON messages (from_address);
CREATE INDEX messages_sender_domain ON messages (sender_domain, ts);
CREATE INDEX messages_spf_result ON messages (spf_result, ts);
CREATE INDEX messages_auth_source ON messages (auth_source, ts);
CREATE INDEX messages_msg_id ON messages (msg_id);
CREATE TABLE recipients (
    message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    address TEXT NOT NULL,
    PRIMARY KEY (message_id, address)
) WITHOUT ROWID;
CREATE INDEX recipients_address ON recipients (address, message_id);
