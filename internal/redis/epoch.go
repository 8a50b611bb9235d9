package redis

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// The epoch tells the replicas that Redis lost its state. It is a hash
// (id, reset, hold) under the key "epoch", written once and never given a
// TTL, so that no eviction policy of the volatile-* kind can take it and
// noeviction keeps it. Every limit script, and Ping, reads it first
// (epochLua) with the id its replica last saw:
//
//   - missing: Redis holds no aiproxy state, after a first start or a
//     reset. A new id is written, and new concurrency slots are held back
//     until hold = now + 3×Check: a replica cannot tell the two apart, and
//     replicas may still hold slots that Redis forgot. If the replica saw
//     an id before, it is a reset, recorded as reset = now.
//   - present with another id than the replica saw, and no reset recorded:
//     a replica that never saw the old state wrote it first; the reset is
//     recorded now.
//
// After a reset, a bucket that Redis no longer has starts empty at the
// reset and refills at its rate (ratelimit.go). Within the hold, every
// live replica registers again the slots it holds (concurrency.go), since
// each renews them every Check and at once when it sees a new id; then the
// caps count every call still at the provider. Every replica learns the
// epoch when it starts and on each readiness probe (Ping), so a reset is
// noticed by the first replica to touch Redis after it.

// epochLua defines epoch(key, known, now, hold, newid): the epoch's id,
// reset and hold (microseconds, 0 for none), as described above. clock
// returns now in microseconds from an argument, or from the server's clock
// when it is 0.
const epochLua = `
local function clock(arg)
  local now = tonumber(arg)
  if now == 0 then
    local t = redis.call('TIME')
    return tonumber(t[1]) * 1000000 + tonumber(t[2])
  end
  return now
end
local function us(n) return string.format('%.0f', n) end
local function epoch(key, known, now, hold, newid)
  local e = redis.call('HMGET', key, 'id', 'reset', 'hold')
  local id, reset, untl = e[1], tonumber(e[2] or 0), tonumber(e[3] or 0)
  if not id then
    id, reset, untl = newid, 0, now + hold
    if known ~= '' then
      reset = now
    end
    redis.call('HSET', key, 'id', id, 'reset', us(reset), 'hold', us(untl))
  elseif known ~= '' and known ~= id and reset == 0 then
    reset = now
    redis.call('HSET', key, 'reset', us(reset))
  end
  return id, reset, untl
end
`

// epochState is the epoch id a replica last saw, and until when new slots
// were held back at its last Ping.
type epochState struct {
	mu        sync.Mutex
	id        string
	holdUntil time.Time
}

// epochKey is the key of the epoch hash.
func (c *Client) epochKey() string { return c.key("epoch") }

// epochArgs are the first four arguments of every limit script: the epoch
// id this replica saw, the clock, the hold after a reset and a fresh id.
func (c *Client) epochArgs() []any {
	c.epoch.mu.Lock()
	known := c.epoch.id
	c.epoch.mu.Unlock()
	hold := 3 * c.opt.Check
	return []any{known, c.nowArg(), strconv.FormatInt(hold.Microseconds(), 10), token()}
}

// sawEpoch records the epoch a script answered with. When it changed,
// Redis lost its state since this replica last looked, and the slots it
// holds are registered again at once.
func (c *Client) sawEpoch(id string) {
	if id == "" {
		return
	}
	c.epoch.mu.Lock()
	changed := c.epoch.id != "" && c.epoch.id != id
	c.epoch.id = id
	c.epoch.mu.Unlock()
	if changed {
		c.log.Warn("redis lost its state; re-registering the concurrency slots held here", "epoch", id)
		c.slots.kick()
	}
}

// pingScript checks the epoch and answers {id, µs left of the hold}.
var pingScript = goredis.NewScript(epochLua + `
local now = clock(ARGV[2])
local id, reset, untl = epoch(KEYS[1], ARGV[1], now, tonumber(ARGV[3]), ARGV[4])
return {id, us(math.max(0, untl - now))}
`)

// Ping checks that the server answers, and learns the epoch (recording a
// reset if this replica saw an earlier one).
func (c *Client) Ping(ctx context.Context) error {
	octx, cancel := c.op(ctx)
	defer cancel()
	res, err := pingScript.Run(octx, c.rdb, []string{c.epochKey()}, c.epochArgs()...).Slice()
	if err == nil && len(res) != 2 {
		err = fmt.Errorf("ping script answered %v", res)
	}
	if err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	id, _ := res[0].(string)
	left, _ := res[1].(string)
	n, _ := strconv.ParseInt(left, 10, 64)
	c.sawEpoch(id)
	c.epoch.mu.Lock()
	c.epoch.holdUntil = time.Now().Add(holdFor(n))
	c.epoch.mu.Unlock()
	return nil
}

// Restoring reports whether new concurrency slots were still held back
// after a first start or a reset at the last Ping.
func (c *Client) Restoring() bool {
	c.epoch.mu.Lock()
	defer c.epoch.mu.Unlock()
	return time.Now().Before(c.epoch.holdUntil)
}

// holdFor converts a script's hold answer (microseconds left) to a
// duration.
func holdFor(us int64) time.Duration { return time.Duration(us) * time.Microsecond }
