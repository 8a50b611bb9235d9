package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// Ledger is an aiproxy.BudgetLedger whose counters and holds live in
// Redis, so that replicas sharing the server agree on what is left: each
// reservation is one script that checks every counter and then raises
// them all, or none. Budget definitions stay in the SQL store.
//
// The ledger always fails closed: an error is aiproxy.ErrUnavailable, and
// a budgeted call is refused with a 503. Counters are the only record of
// spend here, so the server must persist them (AOF or RDB snapshots); a
// Redis that restarts empty forgets every budget's spend. Windowed
// counters expire 90 days after their window ends; lifetime counters
// never do.
//
// Keys, under the client's prefix:
//
//	budget:c:{budget}:{window start ms}:{subject}  hash spent, reserved
//	budget:s:{budget}:{window start ms}            set of subjects
//	budget:h:{hold id}                             hash org, memo, created,
//	                                               expires, expired, charges
//	budget:holds                                   sorted set of held ids
//	                                               by expiry (ms)
//	budget:expired                                 sorted set of expired
//	                                               ids by expiry (ms)
//
// Every time in a key's score or a counter's lifetime comes from the
// caller's clock (a hold's CreatedAt and ExpiresAt), never the server's,
// so that the two need not agree.
type Ledger struct{ c *Client }

var _ aiproxy.BudgetLedger = (*Ledger)(nil)

// BudgetLedger returns the client's budget ledger.
func (c *Client) BudgetLedger() *Ledger { return &Ledger{c: c} }

// counterKeep is how long a windowed counter outlives its window, for
// reports.
const counterKeep = 90 * 24 * time.Hour

// sweepScan is how many expired holds one sweep reads at a time, and
// sweepRounds how many times it reads at most, so that one call ends.
const (
	sweepScan   = 200
	sweepRounds = 50
)

func (l *Ledger) counterKey(k aiproxy.BudgetCounterKey) string {
	return l.c.key("budget", "c", k.BudgetID, strconv.FormatInt(k.WindowStart.UnixMilli(), 10), k.Subject)
}

func (l *Ledger) subjectsKey(budgetID string, start time.Time) string {
	return l.c.key("budget", "s", budgetID, strconv.FormatInt(start.UnixMilli(), 10))
}

func (l *Ledger) holdKey(id string) string { return l.c.key("budget", "h", id) }

func (l *Ledger) holdsKey() string { return l.c.key("budget", "holds") }

func (l *Ledger) expiredKey() string { return l.c.key("budget", "expired") }

// storedCharge is a charge as a hold keeps it, in JSON.
type storedCharge struct {
	Budget      string `json:"b"`
	Subject     string `json:"s"`
	WindowStart int64  `json:"w"`
	Scope       string `json:"sc"`
	Window      string `json:"wk"`
	Amount      int64  `json:"a"`
	Limit       int64  `json:"l"`
	Enforcement string `json:"e"`
}

func toStored(cs []aiproxy.BudgetCharge) []storedCharge {
	out := make([]storedCharge, len(cs))
	for i, c := range cs {
		out[i] = storedCharge{Budget: c.BudgetID, Subject: c.Subject, WindowStart: c.WindowStart.UnixMilli(),
			Scope: string(c.Scope), Window: string(c.Window), Amount: c.Amount, Limit: c.Limit,
			Enforcement: string(c.Enforcement)}
	}
	return out
}

func fromStored(cs []storedCharge) []aiproxy.BudgetCharge {
	out := make([]aiproxy.BudgetCharge, len(cs))
	for i, c := range cs {
		out[i] = aiproxy.BudgetCharge{
			BudgetCounterKey: aiproxy.BudgetCounterKey{BudgetID: c.Budget, Subject: c.Subject,
				WindowStart: time.UnixMilli(c.WindowStart).UTC()},
			Scope: aiproxy.BudgetScope(c.Scope), Window: aiproxy.BudgetWindow(c.Window), Amount: c.Amount,
			Limit: c.Limit, Enforcement: aiproxy.BudgetEnforcement(c.Enforcement),
		}
	}
	return out
}

// down marks a Redis failure as the ledger being unavailable.
func down(err error) error {
	return fmt.Errorf("%w: redis budget ledger: %w", aiproxy.ErrUnavailable, err)
}

// reserveScript reserves a hold. KEYS: the hold, the expiry index, then a
// counter and its subjects set per charge, in the ledger's order. ARGV:
// hold id, org, memo, created ms, expires ms, (unused), charges JSON,
// then per charge amount, limit, free (1 for alert-only), counter
// lifetime ms (0 for none) and subject. It answers {1} when reserved, {-1} when
// the id is taken, and {0, i, spent, reserved} when the i-th charge
// cannot be covered; every counter is checked before any is raised.
var reserveScript = goredis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return {-1} end
local n = (#KEYS - 2) / 2
for i = 1, n do
  local a = 7 + (i - 1) * 5
  local v = redis.call('HMGET', KEYS[1 + 2 * i], 'spent', 'reserved')
  local spent = tonumber(v[1]) or 0
  local reserved = tonumber(v[2]) or 0
  if ARGV[a + 3] ~= '1' and spent + reserved + tonumber(ARGV[a + 1]) > tonumber(ARGV[a + 2]) then
    return {0, i, spent, reserved}
  end
end
for i = 1, n do
  local a = 7 + (i - 1) * 5
  local c, s = KEYS[1 + 2 * i], KEYS[2 + 2 * i]
  redis.call('HINCRBY', c, 'reserved', ARGV[a + 1])
  redis.call('HINCRBY', c, 'spent', 0)
  redis.call('SADD', s, ARGV[a + 5])
  if ARGV[a + 4] ~= '0' then
    redis.call('PEXPIRE', c, ARGV[a + 4])
    redis.call('PEXPIRE', s, ARGV[a + 4])
  end
end
redis.call('HSET', KEYS[1], 'org', ARGV[2], 'memo', ARGV[3], 'created', ARGV[4], 'expires', ARGV[5],
  'expired', '0', 'charges', ARGV[7])
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[1])
return {1}
`)

// ReserveBudget reserves every charge of a hold, all or nothing, in one
// script run.
func (l *Ledger) ReserveBudget(ctx context.Context, h aiproxy.BudgetHold) error {
	if err := h.Validate(); err != nil {
		return err
	}
	charges := append([]aiproxy.BudgetCharge(nil), h.Charges...)
	aiproxy.SortBudgetCharges(charges)
	blob, err := json.Marshal(toStored(charges))
	if err != nil {
		return fmt.Errorf("reserve budget: %w", err)
	}
	now := h.CreatedAt
	if now.IsZero() {
		now = time.Now()
	}
	keys := []string{l.holdKey(h.ID), l.holdsKey()}
	args := []any{h.ID, h.OrgKey, h.Memo, h.CreatedAt.UnixMilli(), h.ExpiresAt.UnixMilli(), 0, string(blob)}
	for _, c := range charges {
		keys = append(keys, l.counterKey(c.BudgetCounterKey), l.subjectsKey(c.BudgetID, c.WindowStart))
		free, life := 0, int64(0)
		if !c.Enforcement.Blocks() {
			free = 1
		}
		if end := c.ResetsAt(); !end.IsZero() {
			life = max(end.Add(counterKeep).Sub(now), 24*time.Hour).Milliseconds()
		}
		args = append(args, c.Amount, c.Limit, free, life, c.Subject)
	}
	octx, cancel := l.c.op(ctx)
	defer cancel()
	res, err := reserveScript.Run(octx, l.c.rdb, keys, args...).Int64Slice()
	if err != nil {
		return down(err)
	}
	switch {
	case len(res) == 1 && res[0] == 1:
		return nil
	case len(res) == 1 && res[0] == -1:
		return fmt.Errorf("reserve budget: hold %q: %w", h.ID, aiproxy.ErrConflict)
	case len(res) == 4 && res[0] == 0 && res[1] >= 1 && int(res[1]) <= len(charges):
		return &aiproxy.BudgetExceededError{Charge: charges[res[1]-1], Spent: res[2], Reserved: res[3]}
	}
	return fmt.Errorf("reserve budget: the script answered %v", res)
}

// finishScript ends a hold. KEYS: the hold, the expiry index, the
// expired index, then its counters in its order. ARGV: hold id, the charges JSON as read, actual
// (or -1 to release), then each charge's amount. It answers {-1} when the
// hold is gone, {-2} when it changed since it was read, and otherwise {1}
// followed by each counter's spent (-1 for a counter that is gone: its
// budget was deleted, or its window long over).
var finishScript = goredis.NewScript(`
local h = redis.call('HMGET', KEYS[1], 'expired', 'charges')
if not h[1] then return {-1} end
if h[2] ~= ARGV[2] then return {-2} end
local out = {1}
for i = 4, #KEYS do
  local c = KEYS[i]
  if redis.call('EXISTS', c) == 1 then
    if h[1] == '0' then
      local r = tonumber(redis.call('HGET', c, 'reserved')) or 0
      local back = math.min(r, tonumber(ARGV[i]))
      if back > 0 then redis.call('HINCRBY', c, 'reserved', string.format('%.0f', -back)) end
    end
    if ARGV[3] ~= '-1' then
      table.insert(out, redis.call('HINCRBY', c, 'spent', ARGV[3]))
    else
      table.insert(out, -1)
    end
  else
    table.insert(out, -1)
  end
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
return out
`)

// SettleBudget replaces a hold with the actual cost on each of its
// counters and removes it.
func (l *Ledger) SettleBudget(ctx context.Context, id string, actualMicros int64) ([]aiproxy.BudgetSettlement, error) {
	out, err := l.finish(ctx, id, max(0, actualMicros))
	if err != nil {
		return nil, fmt.Errorf("settle budget hold %q: %w", id, err)
	}
	return out, nil
}

// ReleaseBudget gives a hold back and removes it.
func (l *Ledger) ReleaseBudget(ctx context.Context, id string) error {
	if _, err := l.finish(ctx, id, -1); err != nil {
		return fmt.Errorf("release budget hold %q: %w", id, err)
	}
	return nil
}

// finish reads a hold for its counters and then ends it in one script run
// that checks the hold is still the one read; actual -1 releases.
func (l *Ledger) finish(ctx context.Context, id string, actual int64) ([]aiproxy.BudgetSettlement, error) {
	for range 3 {
		h, blob, err := l.readHold(ctx, id)
		if err != nil {
			return nil, err
		}
		keys := []string{l.holdKey(id), l.holdsKey(), l.expiredKey()}
		args := []any{id, blob, actual}
		for _, c := range h.Charges {
			keys = append(keys, l.counterKey(c.BudgetCounterKey))
			args = append(args, c.Amount)
		}
		octx, cancel := l.c.op(ctx)
		res, err := finishScript.Run(octx, l.c.rdb, keys, args...).Int64Slice()
		cancel()
		if err != nil {
			return nil, down(err)
		}
		switch {
		case len(res) == 1 && res[0] == -1:
			return nil, aiproxy.ErrNotFound
		case len(res) == 1 && res[0] == -2:
			continue // renamed and reused between the read and the script: read again
		case len(res) != len(h.Charges)+1 || res[0] != 1:
			return nil, fmt.Errorf("the script answered %v", res)
		}
		var out []aiproxy.BudgetSettlement
		for i, c := range h.Charges {
			if actual >= 0 && res[i+1] >= 0 {
				out = append(out, aiproxy.BudgetSettlement{Charge: c, Spent: res[i+1], Added: actual})
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("hold %q kept changing", id)
}

// renameScript moves a hold. KEYS: the old hold, the new hold, the expiry
// index, the expired index. ARGV: old id, new id, expires ms. It answers
// 1, -1 for an unknown hold, -2 for a taken id.
var renameScript = goredis.NewScript(`
local expired = redis.call('HGET', KEYS[1], 'expired')
if not expired then return -1 end
if redis.call('EXISTS', KEYS[2]) == 1 then return -2 end
redis.call('RENAME', KEYS[1], KEYS[2])
redis.call('HSET', KEYS[2], 'expires', ARGV[3])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
if expired == '0' then
  redis.call('ZADD', KEYS[3], ARGV[3], ARGV[2])
else
  redis.call('ZADD', KEYS[4], ARGV[3], ARGV[2])
end
return 1
`)

// RenameBudgetHold gives a hold a new id and expiry.
func (l *Ledger) RenameBudgetHold(ctx context.Context, from, to string, expires time.Time) error {
	if to == "" || len(to) > aiproxy.MaxBudgetHoldID {
		return fmt.Errorf("rename budget hold: new id must be 1 to %d bytes", aiproxy.MaxBudgetHoldID)
	}
	octx, cancel := l.c.op(ctx)
	defer cancel()
	res, err := renameScript.Run(octx, l.c.rdb, []string{l.holdKey(from), l.holdKey(to), l.holdsKey(), l.expiredKey()},
		from, to, expires.UnixMilli()).Int64()
	switch {
	case err != nil:
		return down(err)
	case res == -1:
		return fmt.Errorf("rename budget hold %q: %w", from, aiproxy.ErrNotFound)
	case res == -2:
		return fmt.Errorf("rename budget hold %q to %q: %w", from, to, aiproxy.ErrConflict)
	}
	return nil
}

// BudgetHold returns a hold, or aiproxy.ErrNotFound.
func (l *Ledger) BudgetHold(ctx context.Context, id string) (aiproxy.BudgetHold, error) {
	h, _, err := l.readHold(ctx, id)
	if err != nil {
		return h, fmt.Errorf("budget hold %q: %w", id, err)
	}
	return h, nil
}

// readHold reads a hold and the charges JSON it stores.
func (l *Ledger) readHold(ctx context.Context, id string) (aiproxy.BudgetHold, string, error) {
	octx, cancel := l.c.op(ctx)
	defer cancel()
	m, err := l.c.rdb.HGetAll(octx, l.holdKey(id)).Result()
	if err != nil {
		return aiproxy.BudgetHold{}, "", down(err)
	}
	if len(m) == 0 {
		return aiproxy.BudgetHold{}, "", aiproxy.ErrNotFound
	}
	var stored []storedCharge
	if err := json.Unmarshal([]byte(m["charges"]), &stored); err != nil {
		return aiproxy.BudgetHold{}, "", fmt.Errorf("charges of hold %q: %w", id, err)
	}
	created, _ := strconv.ParseInt(m["created"], 10, 64)
	expires, _ := strconv.ParseInt(m["expires"], 10, 64)
	h := aiproxy.BudgetHold{ID: id, OrgKey: m["org"], Memo: m["memo"], Charges: fromStored(stored),
		CreatedAt: time.UnixMilli(created).UTC(), ExpiresAt: time.UnixMilli(expires).UTC(), Expired: m["expired"] == "1"}
	return h, m["charges"], nil
}

// BudgetCounters returns the counters with these keys, zero for a counter
// never used.
func (l *Ledger) BudgetCounters(ctx context.Context, keys []aiproxy.BudgetCounterKey) ([]aiproxy.BudgetCounter, error) {
	octx, cancel := l.c.op(ctx)
	defer cancel()
	pipe := l.c.rdb.Pipeline()
	cmds := make([]*goredis.SliceCmd, len(keys))
	for i, k := range keys {
		cmds[i] = pipe.HMGet(octx, l.counterKey(k), "spent", "reserved")
	}
	if _, err := pipe.Exec(octx); err != nil && len(keys) > 0 {
		return nil, down(err)
	}
	out := make([]aiproxy.BudgetCounter, len(keys))
	for i, k := range keys {
		out[i] = aiproxy.BudgetCounter{BudgetCounterKey: k}
		out[i].Spent, out[i].Reserved = counterValues(cmds[i].Val())
	}
	return out, nil
}

// counterValues reads a counter's HMGET answer; missing fields are 0.
func counterValues(v []any) (spent, reserved int64) {
	num := func(i int) int64 {
		if i >= len(v) {
			return 0
		}
		s, _ := v[i].(string)
		n, _ := strconv.ParseInt(s, 10, 64)
		return n
	}
	return num(0), num(1)
}

// BudgetSubjects returns every counter of one budget's window, by
// subject.
func (l *Ledger) BudgetSubjects(ctx context.Context, budgetID string, windowStart time.Time) ([]aiproxy.BudgetCounter, error) {
	octx, cancel := l.c.op(ctx)
	subjects, err := l.c.rdb.SMembers(octx, l.subjectsKey(budgetID, windowStart)).Result()
	cancel()
	if err != nil {
		return nil, down(err)
	}
	slices.Sort(subjects)
	keys := make([]aiproxy.BudgetCounterKey, len(subjects))
	for i, s := range subjects {
		keys[i] = aiproxy.BudgetCounterKey{BudgetID: budgetID, Subject: s, WindowStart: windowStart.UTC()}
	}
	return l.BudgetCounters(ctx, keys)
}

// expireScript releases one expired hold. KEYS: the hold, the expiry
// index, the expired index, then its counters. ARGV: hold id, the charges JSON as read, now
// ms, then each charge's amount. It answers 1 when it released the hold,
// 0 when there was nothing to do (settled meanwhile, not yet expired, or
// already expired), -2 when the hold changed since it was read.
var expireScript = goredis.NewScript(`
local h = redis.call('HMGET', KEYS[1], 'expired', 'charges', 'expires')
if not h[1] then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 0
end
if h[2] ~= ARGV[2] then return -2 end
if h[1] ~= '0' or tonumber(h[3]) > tonumber(ARGV[3]) then return 0 end
for i = 4, #KEYS do
  local c = KEYS[i]
  local back = math.min(tonumber(redis.call('HGET', c, 'reserved')) or 0, tonumber(ARGV[i]))
  if back > 0 then redis.call('HINCRBY', c, 'reserved', string.format('%.0f', -back)) end
end
redis.call('HSET', KEYS[1], 'expired', '1')
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], h[3], ARGV[1])
return 1
`)

// SweepBudgetHolds releases the holds that expired at or before now, then
// removes expired holds past the grace period.
func (l *Ledger) SweepBudgetHolds(ctx context.Context, now time.Time) (int, error) {
	released := 0
	for range sweepRounds {
		ids, err := l.due(ctx, l.holdsKey(), now)
		if err != nil {
			return released, fmt.Errorf("sweep budget holds: %w", err)
		}
		for _, id := range ids {
			n, err := l.expire(ctx, id, now)
			if err != nil {
				return released, fmt.Errorf("sweep budget holds: %w", err)
			}
			released += n
		}
		if len(ids) < sweepScan {
			break
		}
	}
	for range sweepRounds {
		ids, err := l.due(ctx, l.expiredKey(), now.Add(-aiproxy.BudgetHoldGrace))
		if err != nil || len(ids) == 0 {
			return released, err
		}
		octx, cancel := l.c.op(ctx)
		pipe := l.c.rdb.TxPipeline()
		for _, id := range ids {
			pipe.Del(octx, l.holdKey(id))
			pipe.ZRem(octx, l.expiredKey(), id)
		}
		_, err = pipe.Exec(octx)
		cancel()
		if err != nil {
			return released, fmt.Errorf("sweep budget holds: %w", down(err))
		}
	}
	return released, nil
}

// due returns up to sweepScan ids of an index scored at or before t.
func (l *Ledger) due(ctx context.Context, index string, t time.Time) ([]string, error) {
	octx, cancel := l.c.op(ctx)
	defer cancel()
	ids, err := l.c.rdb.ZRangeByScore(octx, index, &goredis.ZRangeBy{
		Min: "-inf", Max: strconv.FormatInt(t.UnixMilli(), 10), Count: sweepScan}).Result()
	if err != nil {
		return nil, down(err)
	}
	return ids, nil
}

// expire releases one hold the index says has expired; it returns 1 when
// it did.
func (l *Ledger) expire(ctx context.Context, id string, now time.Time) (int, error) {
	for range 3 {
		h, blob, err := l.readHold(ctx, id)
		if errors.Is(err, aiproxy.ErrNotFound) {
			blob = "" // gone: the script drops it from the index
		} else if err != nil {
			return 0, err
		}
		keys := []string{l.holdKey(id), l.holdsKey(), l.expiredKey()}
		args := []any{id, blob, now.UnixMilli()}
		for _, c := range h.Charges {
			keys = append(keys, l.counterKey(c.BudgetCounterKey))
			args = append(args, c.Amount)
		}
		octx, cancel := l.c.op(ctx)
		res, err := expireScript.Run(octx, l.c.rdb, keys, args...).Int64()
		cancel()
		if err != nil {
			return 0, down(err)
		}
		if res != -2 {
			return int(max(res, 0)), nil
		}
	}
	return 0, nil
}
