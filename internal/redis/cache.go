package redis

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/aiproxy/aiproxy/internal/cache"
)

// CacheStore is a cache.Store in Redis, shared by every replica: a list
// fetched by one is a hit on all. Keys are hashed (the cache's keys hold
// URLs and a credential hash, and can be long); values carry the time they
// were stored. Redis's own maxmemory policy bounds the memory; values
// larger than the store's limit are not kept.
type CacheStore struct {
	c        *Client
	maxValue int
}

var _ cache.Store = (*CacheStore)(nil)

// Cache returns the client's cache store; values over maxValue bytes are
// not stored (0 means 8 MiB).
func (c *Client) Cache(maxValue int) *CacheStore {
	if maxValue <= 0 {
		maxValue = 8 << 20
	}
	return &CacheStore{c: c, maxValue: maxValue}
}

func (s *CacheStore) key(k string) string {
	sum := sha256.Sum256([]byte(k))
	return s.c.key("cache", hex.EncodeToString(sum[:]))
}

// Get returns a stored item. An unreachable Redis is a miss (and an
// error, which the cache treats as one).
func (s *CacheStore) Get(ctx context.Context, key string) (cache.Item, bool, error) {
	b, err := s.c.rdb.Get(ctx, s.key(key)).Bytes()
	switch {
	case errors.Is(err, goredis.Nil):
		return cache.Item{}, false, nil
	case err != nil:
		s.c.failed("cache", err)
		return cache.Item{}, false, err
	case len(b) < 8:
		return cache.Item{}, false, nil
	}
	at := time.UnixMicro(int64(binary.BigEndian.Uint64(b[:8])))
	return cache.Item{Value: b[8:], StoredAt: at}, true, nil
}

// Set stores an item for keep.
func (s *CacheStore) Set(ctx context.Context, key string, it cache.Item, keep time.Duration) error {
	if len(it.Value) > s.maxValue || keep <= 0 {
		return nil
	}
	b := make([]byte, 8+len(it.Value))
	binary.BigEndian.PutUint64(b, uint64(it.StoredAt.UnixMicro()))
	copy(b[8:], it.Value)
	if err := s.c.rdb.Set(ctx, s.key(key), b, keep).Err(); err != nil {
		s.c.failed("cache", err)
		return err
	}
	return nil
}
