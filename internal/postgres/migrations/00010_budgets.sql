-- Budgets: spending caps in micro-USD per org, key, user or user token and
-- calendar window; the counters they are checked against, and the holds
-- that running calls and jobs keep on those counters until they settle.
-- Times are timestamptz at millisecond precision, as in 00001_init.sql;
-- ids and keys sort in the "C" collation.

-- +goose Up

-- A budget's subject is '' for the org scope; for the key, user and token
-- scopes '' is the org's default for each key, user or token, and a
-- subject replaces the default of the same window for that one. Only one
-- budget per org, scope, subject and window.
CREATE TABLE budgets (
    id               text COLLATE "C" PRIMARY KEY,
    org_key          text COLLATE "C" NOT NULL REFERENCES orgs (key) ON DELETE CASCADE,
    scope            text COLLATE "C" NOT NULL CHECK (scope IN ('org', 'key', 'user', 'token')),
    subject          text COLLATE "C" NOT NULL,
    window_kind      text COLLATE "C" NOT NULL CHECK (window_kind IN ('day', 'week', 'month', 'lifetime')),
    limit_micros     bigint NOT NULL CHECK (limit_micros >= 0),
    alert_thresholds double precision[] NOT NULL DEFAULT '{}',
    enforcement      text NOT NULL CHECK (enforcement IN ('block', 'alert_only')),
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    UNIQUE (org_key, scope, subject, window_kind)
);

-- One counter per budget, subject and window (window_start is the UTC
-- start of the day, week or month; the Unix epoch for a lifetime budget).
-- A counter row is created by the first reservation that needs it, with
-- one conditional upsert whose row lock serialises racing replicas. spent
-- may pass the limit (a settled cost is what the provider charged); spent
-- plus reserved never passes it through a reservation. The token's own
-- cap (user_tokens.max_spend_micros) counts under budget_id
-- 'token_max_spend'.
CREATE TABLE budget_counters (
    budget_id    text COLLATE "C" NOT NULL,
    subject      text COLLATE "C" NOT NULL,
    window_start timestamptz NOT NULL,
    spent        bigint NOT NULL DEFAULT 0 CHECK (spent >= 0),
    reserved     bigint NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    PRIMARY KEY (budget_id, subject, window_start)
);

-- A hold is one call's (or job's) reservation on its counters. expired is
-- set when a sweep gave the reservation back because the holder never
-- settled it; the row stays a while so that a late settlement still
-- records the spend. memo is the reserver's, kept as given.
CREATE TABLE budget_holds (
    id         text COLLATE "C" PRIMARY KEY,
    org_key    text COLLATE "C" NOT NULL,
    memo       text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    expired    boolean NOT NULL DEFAULT false
);

CREATE INDEX budget_holds_by_expiry ON budget_holds (expired, expires_at);

-- The charges of a hold, in the order the ledger visits them.
CREATE TABLE budget_hold_charges (
    hold_id      text COLLATE "C" NOT NULL REFERENCES budget_holds (id) ON DELETE CASCADE ON UPDATE CASCADE,
    seq          integer NOT NULL,
    budget_id    text COLLATE "C" NOT NULL,
    subject      text COLLATE "C" NOT NULL,
    window_start timestamptz NOT NULL,
    scope        text NOT NULL,
    window_kind  text NOT NULL,
    amount       bigint NOT NULL CHECK (amount >= 0),
    limit_micros bigint NOT NULL,
    enforcement  text NOT NULL,
    PRIMARY KEY (hold_id, seq)
);

-- +goose Down
DROP TABLE budget_hold_charges;
DROP TABLE budget_holds;
DROP TABLE budget_counters;
DROP TABLE budgets;
