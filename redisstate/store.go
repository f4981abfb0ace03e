// Package redisstate is what replicas of the gateway share through Redis
// (or Valkey), configured by state.redis. Phase 1 (docs/REPLICAS.md): the
// token buckets of global-scope rate limits (GCRA, one script call per
// admitted request, see bucket.go) and the replica count their fallback
// rule needs (replicas.go).
//
// A Store watches its connection: any failed call marks Redis down
// (modelgate_state_redis_up 0), after which the request path does not
// call Redis at all and global limits decide by state.redis.on_unavailable;
// the heartbeat, once a second, is the only call while down, and the first
// one that succeeds marks Redis up again. So a dead Redis costs the
// requests in flight when it died one timeout each, then one timeout per
// heartbeat, and never a restart.
package redisstate

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelgate/modelgate/configs"
	"github.com/redis/go-redis/v9"
)

// Timing of the heartbeat (replicas.go).
const (
	// HeartbeatInterval is how often a replica announces itself, counts the
	// live replicas and, while Redis is down, probes it.
	HeartbeatInterval = time.Second
	// ReplicaTTL is how long an announcement counts: a replica that stopped
	// announcing (crashed) leaves the count after it.
	ReplicaTTL = 5 * time.Second
)

// ErrUnavailable is returned by a bucket's Take while Redis is known to be
// down (no call is made).
var ErrUnavailable = errors.New("redis unavailable")

// Gauge is told whether Redis answers (1) or not (0): a Prometheus gauge
// fits (modelgate_state_redis_up).
type Gauge interface{ Set(float64) }

// Store is the connection to the shared Redis and the state the gateway
// keeps about it. Safe for concurrent use; Close it once.
type Store struct {
	client *redis.Client
	cfg    configs.Redis
	id     string // this replica's name in the replica set
	log    *slog.Logger
	upG    Gauge

	up       atomic.Bool
	replicas atomic.Int64 // last count Redis told; 1 before any

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// Open connects to cfg's Redis (its password from cfg.PasswordEnv), makes
// one heartbeat to learn whether it answers, and starts the heartbeat
// loop. It does not fail when Redis is down: the gateway serves and the
// limits fall back until Redis answers. up, if not nil, follows the state.
func Open(cfg configs.Redis, up Gauge, log *slog.Logger) *Store {
	opts := &redis.Options{
		Addr:     cfg.Address,
		Username: cfg.Username,
		Password: cfg.Password(),
		// Every call is bounded by the configured timeout: dialing,
		// writing, reading and waiting for a pooled connection. Contexts
		// carry no deadline, so the request path makes no timer.
		DialTimeout:  cfg.Timeout,
		ReadTimeout:  cfg.Timeout,
		WriteTimeout: cfg.Timeout,
		PoolTimeout:  cfg.Timeout,
		// One try: a failed call marks Redis down and the heartbeat
		// decides when it is back, so a dead Redis never costs a request
		// several timeouts.
		MaxRetries:    -1,
		DialerRetries: 1,
		// Admission calls are short and made by request goroutines: about
		// ten connections per CPU covers the concurrency of a busy
		// replica (go-redis's own default, set on purpose here).
		PoolSize:        10 * runtime.GOMAXPROCS(0),
		DisableIdentity: true, // no CLIENT SETINFO on each new connection
	}
	if cfg.TLS {
		opts.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	logOnce.Do(func() { redis.SetLogger(clientLog{log}) })
	s := &Store{client: redis.NewClient(opts), cfg: cfg, id: replicaID(), log: log, upG: up,
		stop: make(chan struct{}), done: make(chan struct{})}
	if s.upG == nil {
		s.upG = nopGauge{}
	}
	s.replicas.Store(1)
	s.upG.Set(0)
	if err := s.heartbeat(); err != nil {
		log.Warn("redis not reachable at start; global limits fall back until it is", "address", cfg.Address, "on_unavailable", cfg.OnUnavailable, "err", err)
	}
	go s.run()
	return s
}

// logOnce routes go-redis's own messages (a process-wide setting) to the
// first Store's log at debug level: the Store logs each change between up
// and down itself, at warn and info.
var logOnce sync.Once

type clientLog struct{ log *slog.Logger }

func (l clientLog) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, "redis client: "+fmt.Sprintf(format, v...))
}

type nopGauge struct{}

func (nopGauge) Set(float64) {}

// replicaID names this process in the replica set: host, pid and a random
// suffix (a restarted process is a new replica).
func replicaID() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// Up reports whether Redis answered the last call.
func (s *Store) Up() bool { return s.up.Load() }

// Replicas is the last replica count Redis told (at least 1; 1 before
// any).
func (s *Store) Replicas() int { return int(s.replicas.Load()) }

// OnUnavailable is the configured rule for global limits while Redis is
// down.
func (s *Store) OnUnavailable() string { return s.cfg.OnUnavailable }

// Address is the configured Redis address.
func (s *Store) Address() string { return s.cfg.Address }

// markUp and markDown record the outcome of a call, logging changes.
func (s *Store) markUp() {
	if !s.up.Swap(true) {
		s.upG.Set(1)
		s.log.Info("redis reachable: global limits are shared", "address", s.cfg.Address, "replicas", s.Replicas())
	}
}

func (s *Store) markDown(err error) {
	if s.up.Swap(false) {
		s.upG.Set(0)
		s.log.Warn("redis unavailable: global limits fall back", "address", s.cfg.Address,
			"on_unavailable", s.cfg.OnUnavailable, "replicas", s.Replicas(), "err", err)
	}
}

// run heartbeats until Close.
func (s *Store) run() {
	defer close(s.done)
	t := time.NewTicker(HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			_ = s.heartbeat()
		}
	}
}

// Close stops the heartbeat, takes this replica out of the replica set
// (best effort) and closes the connections.
func (s *Store) Close() error {
	var err error
	s.once.Do(func() {
		close(s.stop)
		<-s.done
		if s.up.Load() {
			ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout)
			s.client.ZRem(ctx, s.replicaSet(), s.id)
			cancel()
		}
		err = s.client.Close()
	})
	return err
}
