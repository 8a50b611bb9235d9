package redis

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Locker hands out short exclusive locks by name across replicas: the job
// tracker takes one per job around a provider status read, so that one
// replica reads while the others wait and then answer from the store. A
// lock lapses by itself after its TTL, so a dead holder blocks others for
// at most that long. Locks fail open: when Redis cannot be reached, Lock
// returns at once without one, since a second status read is harmless.
type Locker struct{ c *Client }

// Locker returns the client's lock engine.
func (c *Client) Locker() *Locker { return &Locker{c: c} }

// unlockScript deletes a lock only if its holder still owns it.
var unlockScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

// Lock waits until it holds the lock named key, for at most ttl, or until
// ctx ends. The returned function releases it.
func (l *Locker) Lock(ctx context.Context, key string, ttl time.Duration) (func(), error) {
	k, holder := l.c.key("lock", key), token()
	wait := pollMin
	for {
		ok, err := l.c.rdb.SetNX(ctx, k, holder, ttl).Result()
		switch {
		case err != nil && ctx.Err() != nil:
			return nil, ctx.Err()
		case err != nil:
			l.c.failed("lock", err)
			return func() {}, nil
		case ok:
			return func() { l.unlock(k, holder) }, nil
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

func (l *Locker) unlock(k, holder string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := unlockScript.Run(ctx, l.c.rdb, []string{k}, holder).Err(); err != nil && !errors.Is(err, goredis.Nil) {
		l.c.failed("lock", err)
	}
}
