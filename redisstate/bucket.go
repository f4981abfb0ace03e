package redisstate

import (
	"context"
	"strconv"
	"time"

	"github.com/modelgate/modelgate/tenants"
	"github.com/redis/go-redis/v9"
)

// gcraScript is the Generic Cell Rate Algorithm over one key, on Redis's
// clock: the key holds the theoretical arrival time (TAT, seconds since
// 2017, the offset keeping microseconds in a double). A request is
// admitted when TAT − burst × interval ≤ now, and pushes TAT one
// emission interval (1 / rate) on. It answers 0 when admitted, otherwise
// how many microseconds until a request would be (at least 1). The key
// expires once the bucket is full again.
//
// ARGV[1]: rate (requests per second), ARGV[2]: burst.
var gcraScript = redis.NewScript(`
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local interval = 1 / rate
local now = redis.call("TIME")
now = (tonumber(now[1]) - 1483228800) + tonumber(now[2]) / 1000000
local tat = tonumber(redis.call("GET", KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local diff = now - (new_tat - burst * interval)
if diff < 0 then
  return math.max(1, math.ceil(-diff * 1000000))
end
redis.call("SET", KEYS[1], string.format("%.6f", new_tat), "PX", math.ceil((new_tat - now) * 1000) + 1)
return 0
`)

// bucket is one shared GCRA bucket: its key and script arguments are
// built once, so Take passes go-redis nothing new.
type bucket struct {
	s    *Store
	keys []string
	args []any
}

// Bucket returns the shared bucket of name (tenant, or tenant/model):
// key key_prefix + "rate:" + name. Replicas whose configs give the same
// name different rates share one bucket, each applying its own rate to
// it (during a config rollout across replicas).
func (s *Store) Bucket(name string, rps float64, burst int) tenants.SharedBucket {
	return &bucket{s: s, keys: []string{s.cfg.KeyPrefix + "rate:" + name},
		args: []any{strconv.FormatFloat(rps, 'g', -1, 64), strconv.Itoa(max(burst, 1))}}
}

// Take runs the GCRA script once (EVALSHA; EVAL the first time a Redis
// does not know it), or returns ErrUnavailable at once while Redis is
// known down. A failed call marks Redis down.
func (b *bucket) Take() (bool, time.Duration, error) {
	if !b.s.up.Load() {
		return false, 0, ErrUnavailable
	}
	us, err := gcraScript.Run(context.Background(), b.s.client, b.keys, b.args...).Int64()
	if err != nil {
		b.s.markDown(err)
		return false, 0, err
	}
	if us == 0 {
		return true, 0, nil
	}
	return false, time.Duration(us) * time.Microsecond, nil
}

// Unavailable returns state.redis.on_unavailable and the last replica
// count.
func (b *bucket) Unavailable() (string, int) { return b.s.cfg.OnUnavailable, b.s.Replicas() }

var (
	_ tenants.SharedStore  = (*Store)(nil)
	_ tenants.SharedBucket = (*bucket)(nil)
)
