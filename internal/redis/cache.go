package redis

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/aiproxy/aiproxy/internal/cache"
)

// CacheStore is a cache.Store in Redis, shared by every replica: a list
// fetched by one is a hit on all. It belongs on a Redis of its own
// (--cache-redis-url), apart from the limits' keys.
//
// It keeps itself within cache.Limits rather than leaving that to Redis's
// maxmemory policy, which cannot tell one org from another: every entry is
// charged to its owner, and the script that stores one pushes out the
// owner's entries closest to expiry while the owner is over its bounds,
// then anyone's while the store is over its own. Keys (all under
// "<prefix>cache:"):
//
//	e:<sha>  the entry: 8 bytes of the time it was stored, then the value; expires with it
//	i        every entry's sha, scored by when it expires (ms)
//	m        sha → "<size>|<owner>"
//	o:<org>  the owner's shas, scored by when they expire
//	ob       owner → bytes charged;  tb  the total bytes charged
//
// Only the entries expire; the bookkeeping keys have no TTL, so that a
// volatile-* eviction policy on the cache's Redis may take entries (their
// bytes are then freed when they would have expired) but never the
// accounting. The script builds the keys of other owners from the prefix,
// so the store needs one Redis server, not a cluster.
type CacheStore struct {
	c   *Client
	lim cache.Limits
	// maxValue is the largest value stored.
	maxValue int
}

var _ cache.Store = (*CacheStore)(nil)

// EntryOverhead is what an entry costs Redis beyond its value: its key, its
// members in the indexes and their bookkeeping. It is charged with the
// value, so that the limits bound Redis's memory, not only the values'.
const EntryOverhead = 256

// Cache returns the client's cache store within lim; a value over 8 MiB,
// or over what one owner may hold, is not stored.
func (c *Client) Cache(lim cache.Limits) *CacheStore {
	lim = lim.Resolved()
	return &CacheStore{c: c, lim: lim, maxValue: int(min(lim.OwnerMaxBytes-EntryOverhead, 8<<20))}
}

// Limits returns the store's limits, defaults resolved.
func (s *CacheStore) Limits() cache.Limits { return s.lim }

// sum is the entry's name: a hash of the cache's key, which holds URLs and
// a credential hash and can be long.
func sum(k string) string {
	h := sha256.Sum256([]byte(k))
	return hex.EncodeToString(h[:])
}

func (s *CacheStore) key(parts ...string) string {
	return s.c.key(append([]string{"cache"}, parts...)...)
}

// Get returns a stored item. An unreachable Redis is a miss (and an
// error, which the cache treats as one).
func (s *CacheStore) Get(ctx context.Context, key string) (cache.Item, bool, error) {
	octx, cancel := s.c.op(ctx)
	defer cancel()
	b, err := s.c.rdb.Get(octx, s.key("e", sum(key))).Bytes()
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

// setScript stores the entry ARGV[1] of owner ARGV[2], charged ARGV[3]
// bytes, for ARGV[4] ms at ARGV[5] (ms, 0 for the server's clock), then
// keeps the owner within ARGV[8] bytes and ARGV[9] entries and the store
// within ARGV[6] bytes and ARGV[7] entries. ARGV[10] is the value, ARGV[11]
// and ARGV[12] the prefixes of entry and owner keys. KEYS are e:<sha>, i,
// m, o:<owner>, ob, tb. It answers 1 if the entry was kept.
var setScript = goredis.NewScript(`
local function drop(sha)
  local meta = redis.call('HGET', KEYS[3], sha)
  if not meta then return end
  local sep = string.find(meta, '|', 1, true)
  local size, owner = tonumber(string.sub(meta, 1, sep - 1)), string.sub(meta, sep + 1)
  redis.call('DEL', ARGV[11] .. sha)
  redis.call('ZREM', KEYS[2], sha)
  redis.call('HDEL', KEYS[3], sha)
  redis.call('ZREM', ARGV[12] .. owner, sha)
  if redis.call('HINCRBY', KEYS[5], owner, -size) <= 0 then
    redis.call('HDEL', KEYS[5], owner)
  end
  redis.call('DECRBY', KEYS[6], size)
end
local now = tonumber(ARGV[5])
if now == 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
for _, sha in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 100)) do
  drop(sha)
end
local sha, owner, size, keep = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local maxBytes, maxEntries = tonumber(ARGV[6]), tonumber(ARGV[7])
local ownerBytes, ownerEntries = tonumber(ARGV[8]), tonumber(ARGV[9])
drop(sha)
if size > ownerBytes or size > maxBytes then
  return 0
end
local expires = string.format('%.0f', now + keep)
redis.call('SET', KEYS[1], ARGV[10], 'PX', keep)
redis.call('ZADD', KEYS[2], expires, sha)
redis.call('HSET', KEYS[3], sha, string.format('%d', size) .. '|' .. owner)
redis.call('ZADD', KEYS[4], expires, sha)
redis.call('HINCRBY', KEYS[5], owner, size)
redis.call('INCRBY', KEYS[6], size)
while redis.call('ZCARD', KEYS[4]) > ownerEntries or tonumber(redis.call('HGET', KEYS[5], owner) or 0) > ownerBytes do
  drop(redis.call('ZRANGE', KEYS[4], 0, 0)[1])
end
while redis.call('ZCARD', KEYS[2]) > maxEntries or tonumber(redis.call('GET', KEYS[6]) or 0) > maxBytes do
  drop(redis.call('ZRANGE', KEYS[2], 0, 0)[1])
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 1
end
return 0
`)

// Set stores an item for keep, charged to its owner, within the limits.
func (s *CacheStore) Set(ctx context.Context, key string, it cache.Item, keep time.Duration) error {
	if len(it.Value) > s.maxValue || keep <= 0 {
		return nil
	}
	b := make([]byte, 8+len(it.Value))
	binary.BigEndian.PutUint64(b, uint64(it.StoredAt.UnixMicro()))
	copy(b[8:], it.Value)
	sha := sum(key)
	var now int64
	if s.c.opt.Now != nil {
		now = s.c.opt.Now().UnixMilli()
	}
	keys := []string{s.key("e", sha), s.key("i"), s.key("m"), s.key("o", it.Owner), s.key("ob"), s.key("tb")}
	octx, cancel := s.c.op(ctx)
	defer cancel()
	err := setScript.Run(octx, s.c.rdb, keys, sha, it.Owner, len(b)+EntryOverhead, keep.Milliseconds(), now,
		s.lim.MaxBytes, s.lim.MaxEntries, s.lim.OwnerMaxBytes, s.lim.OwnerMaxEntries, b,
		s.key("e", ""), s.key("o", "")).Err()
	if err != nil {
		s.c.failed("cache", err)
		return fmt.Errorf("cache set: %w", err)
	}
	return nil
}

// Usage returns the entries and bytes an owner holds, for tests and
// metrics.
func (s *CacheStore) Usage(ctx context.Context, owner string) (entries int, bytes int64, err error) {
	n, err := s.c.rdb.ZCard(ctx, s.key("o", owner)).Result()
	if err != nil {
		return 0, 0, err
	}
	b, err := s.c.rdb.HGet(ctx, s.key("ob"), owner).Int64()
	if errors.Is(err, goredis.Nil) {
		err = nil
	}
	return int(n), b, err
}

// Total returns the entries and bytes the store holds, for tests and
// metrics.
func (s *CacheStore) Total(ctx context.Context) (entries int, bytes int64, err error) {
	n, err := s.c.rdb.ZCard(ctx, s.key("i")).Result()
	if err != nil {
		return 0, 0, err
	}
	b, err := s.c.rdb.Get(ctx, s.key("tb")).Int64()
	if errors.Is(err, goredis.Nil) {
		err = nil
	}
	return int(n), b, err
}
