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

// takeScript refills a bucket (a hash of tokens and the microsecond they
// were counted) for the time passed, spends a token if one is there, and
// lets the key expire when the bucket would be full again, since a full
// bucket and a missing one behave the same. It returns whether the token
// was spent and the tokens left, as a string to keep the fraction.
var takeScript = goredis.NewScript(`
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
if now == 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(b[1])
local at = tonumber(b[2])
if tokens == nil or at == nil then
  tokens = burst
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
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'at', string.format('%d', at))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
return {allowed, string.format('%.17g', tokens)}
`)

// Take removes one token from a bucket. When Redis cannot be reached it
// refuses with a 503 (closed) or allows the call (open).
func (l *Limiter) Take(ctx context.Context, key string, rate float64, burst int) (ratelimit.Decision, error) {
	res, err := takeScript.Run(ctx, l.c.rdb, []string{l.c.key("rl", key)},
		strconv.FormatFloat(rate, 'g', -1, 64), burst, l.c.nowArg()).Slice()
	if err != nil {
		l.c.failed("rate limit", err)
		if l.c.opt.FailOpen {
			return ratelimit.Decision{Allowed: true, Remaining: burst}, nil
		}
		return ratelimit.Decision{}, unavailable(err)
	}
	allowed, tokens, err := readTake(res)
	if err != nil {
		return ratelimit.Decision{}, err
	}
	d := ratelimit.Decision{Allowed: allowed, Remaining: int(tokens)}
	if !allowed {
		d.RetryAfter = seconds((1 - tokens) / rate)
	}
	d.Reset = seconds((float64(burst) - tokens) / rate)
	return d, nil
}

func readTake(res []any) (bool, float64, error) {
	if len(res) != 2 {
		return false, 0, fmt.Errorf("rate limit script answered %v", res)
	}
	allowed, _ := res[0].(int64)
	s, _ := res[1].(string)
	tokens, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return false, 0, fmt.Errorf("rate limit script answered %v: %w", res, err)
	}
	return allowed == 1, tokens, nil
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
