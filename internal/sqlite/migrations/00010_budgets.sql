-- Budgets: spending caps in micro-USD per org, key, user or user token and
-- calendar window; the counters they are checked against, and the holds
-- that running calls and jobs keep on those counters until they settle.
-- Times are UTC unix milliseconds.

-- +goose Up

-- A budget's subject is '' for the org scope; for the key, user and token
-- scopes '' is the org's default for each key, user or token, and a
-- subject replaces the default of the same window for that one. Only one
-- budget per org, scope, subject and window. alert_thresholds is a JSON
-- array of fractions of the limit.
CREATE TABLE budgets (
    id               TEXT PRIMARY KEY NOT NULL,
    org_key          TEXT NOT NULL REFERENCES orgs (key) ON DELETE CASCADE,
    scope            TEXT NOT NULL CHECK (scope IN ('org', 'key', 'user', 'token')),
    subject          TEXT NOT NULL,
    window_kind      TEXT NOT NULL CHECK (window_kind IN ('day', 'week', 'month', 'lifetime')),
    limit_micros     INTEGER NOT NULL CHECK (limit_micros >= 0),
    alert_thresholds TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(alert_thresholds)),
    enforcement      TEXT NOT NULL CHECK (enforcement IN ('block', 'alert_only')),
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    UNIQUE (org_key, scope, subject, window_kind)
) STRICT;

-- One counter per budget, subject and window (window_start is the UTC
-- start of the day, week or month; 0 for a lifetime budget). A counter
-- row is created by the first reservation that needs it. spent may pass
-- the limit (a settled cost is what the provider charged); spent plus
-- reserved never passes it through a reservation. The token's own cap
-- (user_tokens.max_spend_micros) counts under budget_id 'token_max_spend'.
CREATE TABLE budget_counters (
    budget_id    TEXT NOT NULL,
    subject      TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    spent        INTEGER NOT NULL DEFAULT 0 CHECK (spent >= 0),
    reserved     INTEGER NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    PRIMARY KEY (budget_id, subject, window_start)
) STRICT;

-- A hold is one call's (or job's) reservation on its counters. expired is
-- set when a sweep gave the reservation back because the holder never
-- settled it; the row stays a while so that a late settlement still
-- records the spend. memo is the reserver's, kept as given.
CREATE TABLE budget_holds (
    id         TEXT PRIMARY KEY NOT NULL,
    org_key    TEXT NOT NULL,
    memo       TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    expired    INTEGER NOT NULL DEFAULT 0 CHECK (expired IN (0, 1))
) STRICT;

CREATE INDEX budget_holds_by_expiry ON budget_holds (expired, expires_at);

-- The charges of a hold, in the order the ledger visits them.
CREATE TABLE budget_hold_charges (
    hold_id      TEXT NOT NULL REFERENCES budget_holds (id) ON DELETE CASCADE ON UPDATE CASCADE,
    seq          INTEGER NOT NULL,
    budget_id    TEXT NOT NULL,
    subject      TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    scope        TEXT NOT NULL,
    window_kind  TEXT NOT NULL,
    amount       INTEGER NOT NULL CHECK (amount >= 0),
    limit_micros INTEGER NOT NULL,
    enforcement  TEXT NOT NULL,
    PRIMARY KEY (hold_id, seq)
) STRICT;

-- +goose Down
DROP TABLE budget_hold_charges;
DROP TABLE budget_holds;
DROP TABLE budget_counters;
DROP TABLE budgets;
