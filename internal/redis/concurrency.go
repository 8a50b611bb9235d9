package redis

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/concurrency"
)

// Semaphore is a concurrency.Semaphore whose slots live in Redis, so that a
// cap holds across every replica. A key is a sorted set of slot holders
// ("<token>:<org>") scored by when their lease lapses. The replica that
// holds a slot renews its lease every Options.Check (keeper), so a replica
// that dies gives its slots back within one lease, and one that finds Redis
// has lost them registers them again. A claim with Shares is granted by
// aiproxy.Shares' rule, in the script, from the holders' orgs.
type Semaphore struct{ c *Client }

var _ concurrency.Semaphore = (*Semaphore)(nil)

// Semaphore returns the client's concurrency engine.
func (c *Client) Semaphore() *Semaphore { return &Semaphore{c: c} }

// shareLua defines grant(limit, org, held, weights), aiproxy.Shares.Grant
// in Lua: held maps the orgs holding slots to how many, weights the orgs
// that weigh more than 1.
const shareLua = `
local function weight(w, o)
  local x = w[o]
  if x and x > 1 then return x end
  return 1
end
local function share(limit, w, sum) return math.max(1, math.floor(limit * w / sum)) end
local function grant(limit, org, held, w)
  local total, sum = 0, 1 + weight(w, org)
  for o, n in pairs(held) do
    total = total + n
    if o ~= org then sum = sum + weight(w, o) end
  end
  if total >= limit then return false end
  if (held[org] or 0) < share(limit, weight(w, org), sum) then return true end
  local reserved = share(limit, 1, sum)
  for o, n in pairs(held) do
    if o ~= org then reserved = reserved + math.max(0, share(limit, weight(w, o), sum) - n) end
  end
  return total + 1 + reserved <= limit
end
`

// acquireScript checks the epoch (KEYS[1], ARGV[1..4]), drops lapsed
// holders of KEYS[2], then adds the holder ARGV[5] with a lease of ARGV[7]
// ms if one of ARGV[6] slots is granted to org ARGV[8]: any free one, or by
// the fair-share rule when ARGV[9] is "1" (ARGV[10..] are org, weight
// pairs). It answers {granted, epoch id, µs left of a hold after a reset}.
var acquireScript = goredis.NewScript(epochLua + shareLua + `
local now = clock(ARGV[2])
local id, reset, untl = epoch(KEYS[1], ARGV[1], now, tonumber(ARGV[3]), ARGV[4])
if now < untl then
  return {0, id, us(untl - now)}
end
local nowms = math.floor(now / 1000)
local limit, lease = tonumber(ARGV[6]), tonumber(ARGV[7])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', nowms)
local ok
if ARGV[9] == '1' then
  local weights, held = {}, {}
  for i = 10, #ARGV, 2 do weights[ARGV[i]] = tonumber(ARGV[i + 1]) end
  for _, m in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
    local o = string.sub(m, 26)
    held[o] = (held[o] or 0) + 1
  end
  ok = grant(limit, ARGV[8], held, weights)
else
  ok = redis.call('ZCARD', KEYS[2]) < limit
end
if not ok then
  return {0, id, '0'}
end
redis.call('ZADD', KEYS[2], nowms + lease, ARGV[5])
if redis.call('PTTL', KEYS[2]) < lease then
  redis.call('PEXPIRE', KEYS[2], lease)
end
return {1, id, '0'}
`)

// renewScript checks the epoch (KEYS[1], ARGV[1..4]) and renews, for ARGV[5]
// ms, each holder ARGV[5+i] in the slots KEYS[1+i], adding it again if Redis
// lost it: its call is still at the provider, so it must count, even past
// the cap. It answers {epoch id, holders added again}.
var renewScript = goredis.NewScript(epochLua + `
local now = clock(ARGV[2])
local id = epoch(KEYS[1], ARGV[1], now, tonumber(ARGV[3]), ARGV[4])
local nowms, lease = math.floor(now / 1000), tonumber(ARGV[5])
local back = 0
for i = 2, #KEYS do
  back = back + redis.call('ZADD', KEYS[i], nowms + lease, ARGV[i + 4])
  if redis.call('PTTL', KEYS[i]) < lease then
    redis.call('PEXPIRE', KEYS[i], lease)
  end
end
return {id, back}
`)

// The waits between tries for a slot: they start short, since a slot is
// often freed within milliseconds, and grow to pollMax.
const (
	pollMin = 5 * time.Millisecond
	pollMax = 100 * time.Millisecond
)

// Acquire waits for a slot of c.Key until ctx ends. When Redis cannot be
// reached or does not answer within OpTimeout, it refuses with a 503 at
// once (closed), however long the call could still wait, or lets the call
// through without a slot (open). While new slots are held back after a
// reset it waits, and a call whose wait ends then is a 503 too: the cap
// may have room, it is only not known yet.
func (s *Semaphore) Acquire(ctx context.Context, c concurrency.Claim) (func(), error) {
	k, member := s.c.key("cc", c.Key), token()+":"+c.Org
	wait := pollMin
	for {
		got, hold, err := s.try(ctx, k, member, c)
		switch {
		case err != nil:
			s.c.failed("concurrency", err)
			if s.c.opt.FailOpen {
				return func() {}, nil
			}
			return nil, unavailable(err)
		case got:
			return s.hold(k, member), nil
		}
		pause := wait/2 + rand.N(wait/2+1)
		if hold > 0 {
			pause = min(hold, pollMax)
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			if hold > 0 {
				return nil, restoring(hold)
			}
			return nil, ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, pollMax)
	}
}

// try runs the acquire script once, within OpTimeout of its own: a slow
// Redis is an error even when the caller's wait would have ended anyway,
// so that it is never mistaken for a full cap. It reports whether the slot
// was granted, and how long new slots are still held back after a reset.
func (s *Semaphore) try(ctx context.Context, k, member string, c concurrency.Claim) (bool, time.Duration, error) {
	octx, cancel := s.c.op(context.WithoutCancel(ctx))
	defer cancel()
	args := append(s.c.epochArgs(), member, c.Limit, s.c.opt.Lease.Milliseconds(), c.Org)
	if c.Shares == nil {
		args = append(args, "0")
	} else {
		args = append(args, "1")
		for org, w := range c.Shares.Weights {
			args = append(args, org, w)
		}
	}
	res, err := acquireScript.Run(octx, s.c.rdb, []string{s.c.epochKey(), k}, args...).Slice()
	if err != nil {
		return false, 0, err
	}
	got, id, left, err := readAcquire(res)
	if err != nil {
		return false, 0, err
	}
	s.c.sawEpoch(id)
	return got, holdFor(left), nil
}

func readAcquire(res []any) (bool, string, int64, error) {
	if len(res) != 3 {
		return false, "", 0, fmt.Errorf("acquire script answered %v", res)
	}
	got, _ := res[0].(int64)
	id, _ := res[1].(string)
	left, _ := res[2].(string)
	n, err := strconv.ParseInt(left, 10, 64)
	if err != nil {
		return false, "", 0, fmt.Errorf("acquire script answered %v: %w", res, err)
	}
	return got == 1, id, n, nil
}

// restoring is the refusal of a call that waited out its queue time while
// new slots were held back after a reset.
func restoring(left time.Duration) *aiproxy.Error {
	e := aiproxy.Errorf(aiproxy.CodeUnavailable,
		"The service is temporarily unavailable: shared limits are being restored. Retry shortly.")
	e.RetryAfter = max(1, int(math.Ceil(left.Seconds())))
	return e
}

// hold registers a granted slot with the keeper until the returned
// function gives it back.
func (s *Semaphore) hold(k, member string) func() {
	s.c.slots.add(k, member)
	var once sync.Once
	return func() { once.Do(func() { s.c.slots.release(k, member) }) }
}

// InFlight returns the live slots of a key, for tests and metrics.
func (s *Semaphore) InFlight(ctx context.Context, key string) (int, error) {
	now := time.Now()
	if s.c.opt.Now != nil {
		now = s.c.opt.Now()
	}
	n, err := s.c.rdb.ZCount(ctx, s.c.key("cc", key), "("+strconv.FormatInt(now.UnixMilli(), 10), "+inf").Result()
	return int(n), err
}

// keeper renews the slots a replica holds, all in one script run every
// Options.Check, and at once when a script saw the epoch change. A slot
// that Redis lost (a reset, or a lease that lapsed while Redis was out of
// reach) is added again, since its call is still at the provider.
type keeper struct {
	c *Client
	// renewing is held while a renewal runs, so that a slot released
	// meanwhile is removed from Redis after the renewal, never re-added.
	renewing sync.Mutex

	mu      sync.Mutex
	held    map[string]string // holder → slots key
	running bool
	wake    chan struct{}
	wg      sync.WaitGroup
}

func newKeeper(c *Client) *keeper {
	return &keeper{c: c, held: map[string]string{}, wake: make(chan struct{}, 1)}
}

// add starts renewing a slot.
func (k *keeper) add(key, member string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.held[member] = key
	if !k.running {
		k.running = true
		k.wg.Add(1)
		go k.run()
	}
}

// release stops renewing a slot and removes it from Redis.
func (k *keeper) release(key, member string) {
	k.renewing.Lock()
	k.mu.Lock()
	delete(k.held, member)
	k.mu.Unlock()
	k.renewing.Unlock()
	ctx, cancel := k.c.op(context.Background())
	defer cancel()
	if err := k.c.rdb.ZRem(ctx, key, member).Err(); err != nil {
		k.c.failed("concurrency", err) // the lease frees it
	}
}

// kick asks for a renewal now.
func (k *keeper) kick() {
	select {
	case k.wake <- struct{}{}:
	default:
	}
}

// wait waits for the renewals to stop, after the client closed.
func (k *keeper) wait() { k.wg.Wait() }

// run renews until no slot is held or the client closes.
func (k *keeper) run() {
	defer k.wg.Done()
	t := time.NewTicker(k.c.opt.Check)
	defer t.Stop()
	for {
		select {
		case <-k.c.done:
			k.mu.Lock()
			k.running = false
			k.mu.Unlock()
			return
		case <-t.C:
		case <-k.wake:
		}
		if !k.renew() {
			return
		}
	}
}

// renew renews every held slot; it reports false, and stops the keeper,
// when none is held.
func (k *keeper) renew() bool {
	k.renewing.Lock()
	defer k.renewing.Unlock()
	k.mu.Lock()
	if len(k.held) == 0 {
		k.running = false
		k.mu.Unlock()
		return false
	}
	keys := []string{k.c.epochKey()}
	args := append(k.c.epochArgs(), k.c.opt.Lease.Milliseconds())
	for member, key := range k.held {
		keys, args = append(keys, key), append(args, member)
	}
	k.mu.Unlock()
	ctx, cancel := k.c.op(context.Background())
	defer cancel()
	res, err := renewScript.Run(ctx, k.c.rdb, keys, args...).Slice()
	if err == nil && len(res) != 2 {
		err = fmt.Errorf("renew script answered %v", res)
	}
	if err != nil {
		k.c.failed("concurrency", err) // tried again at the next tick
		return true
	}
	if back, _ := res[1].(int64); back > 0 {
		k.c.log.Warn("redis had lost concurrency slots held here; registered them again", "slots", back)
	}
	id, _ := res[0].(string)
	k.c.sawEpoch(id)
	return true
}
