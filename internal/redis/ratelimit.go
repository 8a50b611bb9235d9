package redis

import (
	"context"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/aiproxy/aiproxy/internal/ratelimit"
)

// Limiter is a ratelimit.Limiter whose token buckets live in Redis, so that
// a limit holds across every replica. Each Take is one script run: the
// same arithmetic as ratelimit.Memory, applied atomically on the server.
type Limiter struct{ c *Client }

var _ ratelimit.Limiter = (*Limiter)(nil)

// Limiter returns the client's rate limiter engine.
func (c *Client) Limiter() *Limiter { return &Limiter{c: c} }

// takeScript checks the epoch (KEYS[1], ARGV[1..4]), refills the bucket
// KEYS[2] (a hash of tokens and the microsecond they were counted) for the
// time passed, spends a token if one is there, and lets the key expire when
// the bucket would be full again, since a full bucket and a missing one
// behave the same — except after a reset, when a missing bucket is one
// Redis forgot: it counts as emptied at the reset and refilled since. It
// answers whether the token was spent, the tokens left (a string, to keep
// the fraction) and the epoch id.
var takeScript = goredis.NewScript(epochLua + `
local now = clock(ARGV[2])
local id, reset = epoch(KEYS[1], ARGV[1], now, tonumber(ARGV[3]), ARGV[4])
local rate = tonumber(ARGV[5])
local burst = tonumber(ARGV[6])
local b = redis.call('HMGET', KEYS[2], 'tokens', 'at')
local tokens = tonumber(b[1])
local at = tonumber(b[2])
if tokens == nil or at == nil then
  tokens = burst
  if reset > 0 then
    tokens = math.min(burst, math.max(0, now - reset) / 1000000 * rate)
  end
  at = now
end
local elapsed = (now - at) / 1000000
if elapsed > 0 then
  tokens = math.min(burst, tokens + elapsed * rate)
  at = now
end
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[2], 'tokens', string.format('%.17g', tokens), 'at', us(at))
redis.call('PEXPIRE', KEYS[2], math.ceil((burst - tokens) / rate * 1000) + 1000)
return {allowed, string.format('%.17g', tokens), id}
`)

// Take removes one token from a bucket. When Redis cannot be reached, or
// does not answer within OpTimeout, it refuses with a 503 (closed) or
// allows the call (open).
func (l *Limiter) Take(ctx context.Context, key string, rate float64, burst int) (ratelimit.Decision, error) {
	octx, cancel := l.c.op(ctx)
	defer cancel()
	args := append(l.c.epochArgs(), strconv.FormatFloat(rate, 'g', -1, 64), burst)
	res, err := takeScript.Run(octx, l.c.rdb, []string{l.c.epochKey(), l.c.key("rl", key)}, args...).Slice()
	if err != nil {
		l.c.failed("rate limit", err)
		if l.c.opt.FailOpen {
			return ratelimit.Decision{Allowed: true, Remaining: burst}, nil
		}
		return ratelimit.Decision{}, unavailable(err)
	}
	allowed, tokens, id, err := readTake(res)
	if err != nil {
		return ratelimit.Decision{}, err
	}
	l.c.sawEpoch(id)
	d := ratelimit.Decision{Allowed: allowed, Remaining: int(tokens)}
	if !allowed {
		d.RetryAfter = seconds((1 - tokens) / rate)
	}
	d.Reset = seconds((float64(burst) - tokens) / rate)
	return d, nil
}

func readTake(res []any) (bool, float64, string, error) {
	if len(res) != 3 {
		return false, 0, "", fmt.Errorf("rate limit script answered %v", res)
	}
	allowed, _ := res[0].(int64)
	s, _ := res[1].(string)
	id, _ := res[2].(string)
	tokens, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return false, 0, "", fmt.Errorf("rate limit script answered %v: %w", res, err)
	}
	return allowed == 1, tokens, id, nil
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
