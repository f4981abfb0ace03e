package redisstate

import (
	"context"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// The replica set is one sorted set, key_prefix + "replicas": each member
// a replica, its score the Redis server time (seconds) until which its
// last announcement counts. One script call announces, drops the expired
// members and counts the rest, on Redis's clock (replicas' clocks may
// disagree).
var announceScript = redis.NewScript(`
local now = redis.call("TIME")
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
redis.call("ZADD", KEYS[1], t + tonumber(ARGV[2]), ARGV[1])
redis.call("ZREMRANGEBYSCORE", KEYS[1], "-inf", t)
redis.call("PEXPIRE", KEYS[1], math.ceil(tonumber(ARGV[2]) * 2000))
return redis.call("ZCARD", KEYS[1])
`)

func (s *Store) replicaSet() string { return s.cfg.KeyPrefix + "replicas" }

// heartbeat announces this replica and learns the replica count; its
// outcome marks Redis up or down.
func (s *Store) heartbeat() error {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout)
	defer cancel()
	n, err := announceScript.Run(ctx, s.client, []string{s.replicaSet()}, s.id, strconv.FormatFloat(ReplicaTTL.Seconds(), 'f', -1, 64)).Int64()
	if err != nil {
		s.markDown(err)
		return err
	}
	s.replicas.Store(max(n, 1))
	s.markUp()
	return nil
}
