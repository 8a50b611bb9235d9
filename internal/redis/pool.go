package redis

import (
	"context"
	"math"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/concurrency"
)

// KeyHealth keeps the health of the keys of credential pools in Redis, so
// that every replica agrees on a key that rests or was taken out, and
// counts each key's calls in flight as leased slots (the Semaphore's), so
// that a key's cap holds across replicas. It is the shared engine of
// proxy.KeyHealth.
//
// A key that is not healthy has a hash ("pool:SOURCE:ORG:NAME:ID") with
// its state, reason, since and until (milliseconds); a rest's hash expires
// when the rest ends, a removal's never does. Its slots are the sorted set
// "cc:pool:SOURCE:ORG:NAME:ID".
type KeyHealth struct{ c *Client }

// KeyHealth returns the client's key health engine.
func (c *Client) KeyHealth() *KeyHealth { return &KeyHealth{c: c} }

// poolKeyName names a key of a pool, below the prefix.
func poolKeyName(pool aiproxy.PoolRef, id string) string {
	return "pool:" + string(pool.Source) + ":" + pool.OrgKey + ":" + pool.Name + ":" + id
}

// markScript records in KEYS[1] the state ARGV[1] with reason ARGV[2],
// since ARGV[3] and until ARGV[4] (milliseconds) when it supersedes the
// key's state at ARGV[3] by aiproxy.KeyStatus.Supersedes: anything
// replaces health or an ended rest, a removal replaces a rest, a rest an
// earlier-ending one, and nothing a removal. It answers 1 when it did.
var markScript = goredis.NewScript(`
local old = redis.call('HMGET', KEYS[1], 'state', 'until')
local now, untl = tonumber(ARGV[3]), tonumber(ARGV[4])
if old[1] == 'removed' then return 0 end
if old[1] == 'resting' and tonumber(old[2]) > now then
  if ARGV[1] == 'resting' and untl <= tonumber(old[2]) then return 0 end
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'reason', ARGV[2], 'since', ARGV[3], 'until', ARGV[4])
if ARGV[1] == 'resting' then
  redis.call('PEXPIREAT', KEYS[1], untl)
end
return 1
`)

// restoreScript deletes the state KEYS[1] and answers what it held.
var restoreScript = goredis.NewScript(`
local old = redis.call('HMGET', KEYS[1], 'state', 'reason', 'since', 'until')
redis.call('DEL', KEYS[1])
return old
`)

// KeyStates reads the named keys' states and calls in flight in one round
// trip. When Redis cannot answer it refuses with a 503 (closed), or
// reports every key healthy (open).
func (h *KeyHealth) KeyStates(ctx context.Context, pool aiproxy.PoolRef, ids []string) (map[string]aiproxy.KeyStatus, error) {
	octx, cancel := h.c.op(ctx)
	defer cancel()
	now := h.now()
	pipe := h.c.rdb.Pipeline()
	states := make([]*goredis.SliceCmd, len(ids))
	flights := make([]*goredis.IntCmd, len(ids))
	for i, id := range ids {
		name := poolKeyName(pool, id)
		states[i] = pipe.HMGet(octx, h.c.key(name), "state", "reason", "since", "until")
		flights[i] = pipe.ZCount(octx, h.c.key("cc", name), "("+strconv.FormatInt(now.UnixMilli(), 10), "+inf")
	}
	if _, err := pipe.Exec(octx); err != nil && err != goredis.Nil {
		h.c.failed("key health", err)
		if h.c.opt.FailOpen {
			return map[string]aiproxy.KeyStatus{}, nil
		}
		return nil, unavailable(err)
	}
	out := map[string]aiproxy.KeyStatus{}
	for i, id := range ids {
		st := readKeyStatus(states[i].Val()).At(now)
		st.InFlight = int(flights[i].Val())
		if st.State != aiproxy.KeyHealthy || st.InFlight > 0 {
			out[id] = st
		}
	}
	return out, nil
}

// readKeyStatus reads the fields state, reason, since and until.
func readKeyStatus(v []any) aiproxy.KeyStatus {
	field := func(i int) string {
		if i < len(v) {
			s, _ := v[i].(string)
			return s
		}
		return ""
	}
	millis := func(i int) time.Time {
		n, err := strconv.ParseInt(field(i), 10, 64)
		if err != nil || n == 0 {
			return time.Time{}
		}
		return time.UnixMilli(n).UTC()
	}
	return aiproxy.KeyStatus{State: aiproxy.KeyState(field(0)), Reason: field(1), Since: millis(2), Until: millis(3)}
}

// MarkKey records a rest or removal that supersedes the key's state, in
// one script, so that of replicas racing to report one key only one sees
// the change.
func (h *KeyHealth) MarkKey(ctx context.Context, pool aiproxy.PoolRef, id string, st aiproxy.KeyStatus) (bool, error) {
	octx, cancel := h.c.op(context.WithoutCancel(ctx))
	defer cancel()
	since := st.Since
	if since.IsZero() {
		since = h.now()
	}
	var until int64
	if st.State == aiproxy.KeyResting {
		until = st.Until.UnixMilli()
	}
	n, err := markScript.Run(octx, h.c.rdb, []string{h.c.key(poolKeyName(pool, id))},
		string(st.State), st.Reason, since.UnixMilli(), until).Int()
	if err != nil {
		h.c.failed("key health", err)
		return false, unavailable(err)
	}
	return n == 1, nil
}

// TakeKey holds one of a key's slots, leased and renewed like the
// Semaphore's. It never waits for a full key, only while new slots are
// held back after a reset (as the Semaphore does), until ctx ends. A slot
// that cannot be checked (Redis down in the open mode) lets the call
// through uncounted: the provider's own 429 still stops a key overrun.
func (h *KeyHealth) TakeKey(ctx context.Context, pool aiproxy.PoolRef, id string, max int) (func(), bool, error) {
	limit := max
	if limit <= 0 {
		limit = math.MaxInt32
	}
	s := h.c.Semaphore()
	k, member := h.c.key("cc", poolKeyName(pool, id)), token()+":"
	claim := concurrency.Claim{Key: poolKeyName(pool, id), Limit: limit}
	for {
		got, hold, err := s.try(ctx, k, member, claim)
		switch {
		case err != nil:
			h.c.failed("key health", err)
			if h.c.opt.FailOpen {
				return func() {}, true, nil
			}
			return nil, false, unavailable(err)
		case got:
			return s.hold(k, member), true, nil
		case hold == 0:
			return nil, false, nil
		}
		t := time.NewTimer(min(hold, pollMax))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, false, restoring(hold)
		case <-t.C:
		}
	}
}

// RestoreKey makes a resting or removed key healthy again, and returns the
// status it had, with whether it was not healthy.
func (h *KeyHealth) RestoreKey(ctx context.Context, pool aiproxy.PoolRef, id string) (aiproxy.KeyStatus, bool, error) {
	octx, cancel := h.c.op(context.WithoutCancel(ctx))
	defer cancel()
	v, err := restoreScript.Run(octx, h.c.rdb, []string{h.c.key(poolKeyName(pool, id))}).Slice()
	if err != nil {
		h.c.failed("key health", err)
		return aiproxy.KeyStatus{}, false, unavailable(err)
	}
	prev := readKeyStatus(v).At(h.now())
	return prev, prev.State != aiproxy.KeyHealthy, nil
}

func (h *KeyHealth) now() time.Time {
	if h.c.opt.Now != nil {
		return h.c.opt.Now()
	}
	return time.Now()
}
