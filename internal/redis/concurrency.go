package redis

import (
	"context"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/aiproxy/aiproxy/internal/concurrency"
)

// Semaphore is a concurrency.Semaphore whose slots live in Redis, so that a
// cap holds across every replica. A key is a sorted set of slot holders
// scored by when their lease lapses; a holder renews its lease while it
// holds the slot, so a replica that dies (or loses Redis) gives its slots
// back within one lease.
type Semaphore struct{ c *Client }

var _ concurrency.Semaphore = (*Semaphore)(nil)

// Semaphore returns the client's concurrency engine.
func (c *Client) Semaphore() *Semaphore { return &Semaphore{c: c} }

// clockLua sets now (milliseconds) from ARGV[n], or from the server's clock
// when it is 0.
const clockLua = `
local function clock(arg)
  local now = tonumber(arg)
  if now == 0 then
    local t = redis.call('TIME')
    return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  return math.floor(now / 1000)
end
`

// acquireScript drops lapsed holders, then adds ARGV[1] with a lease of
// ARGV[3] ms if fewer than ARGV[2] hold a slot.
var acquireScript = goredis.NewScript(clockLua + `
local now = clock(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
  return 1
end
return 0
`)

// renewScript extends ARGV[1]'s lease if it still holds a slot.
var renewScript = goredis.NewScript(clockLua + `
local now = clock(ARGV[3])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]), ARGV[1])
  if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then
    redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
  end
  return 1
end
return 0
`)

// The waits between tries for a slot: they start short, since a slot is
// often freed within milliseconds, and grow to pollMax.
const (
	pollMin = 5 * time.Millisecond
	pollMax = 100 * time.Millisecond
)

// Acquire waits for one of limit slots of key until ctx ends. When Redis
// cannot be reached it refuses with a 503 (closed) or lets the call
// through without a slot (open).
func (s *Semaphore) Acquire(ctx context.Context, key string, limit int) (func(), error) {
	k, holder := s.c.key("cc", key), token()
	lease := s.c.opt.Lease.Milliseconds()
	wait := pollMin
	for {
		got, err := acquireScript.Run(ctx, s.c.rdb, []string{k}, holder, limit, lease, s.c.nowArg()).Int()
		switch {
		case err != nil && ctx.Err() != nil:
			return nil, ctx.Err()
		case err != nil:
			s.c.failed("concurrency", err)
			if s.c.opt.FailOpen {
				return func() {}, nil
			}
			return nil, unavailable(err)
		case got == 1:
			return s.hold(k, holder), nil
		}
		t := time.NewTimer(wait/2 + rand.N(wait/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, pollMax)
	}
}

// hold renews a slot's lease until the returned function gives it back.
func (s *Semaphore) hold(k, holder string) func() {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(s.c.opt.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				s.renew(k, holder)
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(stop)
			<-done
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			if err := s.c.rdb.ZRem(ctx, k, holder).Err(); err != nil {
				s.c.failed("concurrency", err) // the lease frees it
			}
		})
	}
}

func (s *Semaphore) renew(k, holder string) {
	ctx, cancel := context.WithTimeout(context.Background(), s.c.opt.Lease/3)
	defer cancel()
	ok, err := renewScript.Run(ctx, s.c.rdb, []string{k}, holder, s.c.opt.Lease.Milliseconds(), s.c.nowArg()).Int()
	switch {
	case err != nil:
		s.c.failed("concurrency", err)
	case ok == 0:
		s.c.log.Warn("concurrency slot lapsed while held; the call goes on", "key", k)
	}
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
