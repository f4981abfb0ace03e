package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/modelgate/modelgate/audit"
	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/control"
	revstore "github.com/modelgate/modelgate/revision"
	"github.com/modelgate/modelgate/rollout"
	"github.com/modelgate/modelgate/rollout/webhook"
	"github.com/prometheus/client_golang/prometheus"
)

// EnvDataDir names the data directory when --data-dir is not given.
const EnvDataDir = "MODELGATE_DATA_DIR"

// defaultDataDir is where serve keeps revisions and the audit log without
// --data-dir or MODELGATE_DATA_DIR: $XDG_STATE_HOME/modelgate, else
// ~/.local/state/modelgate, else ./modelgate-data.
func defaultDataDir() string {
	if d := os.Getenv(EnvDataDir); d != "" {
		return d
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "modelgate")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "modelgate")
	}
	return "modelgate-data"
}

// controlPlane is the state the control plane keeps in the data
// directory: the revision store, the audit log, the Plane over them and
// the rollout controller that owns the weights of models in a rollout.
type controlPlane struct {
	store    *revstore.Store
	audit    *audit.Log
	plane    *control.Plane
	rollouts *rollout.Controller
	hooks    *webhook.Sender
}

// openControlPlane opens DIR/revisions.db, DIR/audit.log and
// DIR/rollouts.json, a Plane applying to gw and the rollout controller
// reading stats. Start it before traffic is served; close it last.
func openControlPlane(dir string, cfg *configs.Config, gw control.Gateway, stats rollout.Stats, log *slog.Logger, reg prometheus.Registerer) (*controlPlane, error) {
	store, err := revstore.Open(dir, cfg.Admin.KeepRevisions)
	if err != nil {
		return nil, err
	}
	alog, err := audit.Open(filepath.Join(dir, "audit.log"))
	if err != nil {
		store.Close()
		return nil, err
	}
	if rec := alog.Recovered(); rec.Bytes > 0 {
		log.Warn("audit log: removed a torn last line left by a crash", "path", alog.Path(), "bytes", rec.Bytes, "offset", rec.Offset)
	}
	cp := &controlPlane{store: store, audit: alog}
	cp.plane = control.New(store, gw, log, reg, func(d control.Decision) {
		e := audit.Entry{Actor: "file", Role: "system", Action: d.Action, Reason: d.Reason, Status: 200}
		if d.Before != nil {
			e.BeforeRevision, e.BeforeHash = d.Before.N, d.Before.Hash
		}
		if d.After != nil {
			e.AfterRevision, e.AfterHash = d.After.N, d.After.Hash
		}
		if _, err := alog.Append(e); err != nil {
			log.Error("audit log write failed", "action", d.Action, "err", err)
		}
	})
	cp.hooks = webhook.New(webhook.Options{Log: log, Registerer: reg})
	rstore, err := rollout.OpenStore(dir)
	if err == nil {
		cp.rollouts, err = rollout.New(rollout.Options{Plane: cp.plane, Stats: stats, Store: rstore, Audit: alog,
			Log: log, Registerer: reg, Notify: func(hooks []configs.Webhook, typ string, payload []byte) {
				cp.hooks.Send(hooks, webhook.Event{Type: typ, Payload: payload})
			}})
	}
	if err != nil {
		cp.Close()
		return nil, fmt.Errorf("rollout state: %w", err)
	}
	cp.plane.SetOwner(cp.rollouts)
	return cp, nil
}

// webhookDrain bounds how long Close waits for queued rollout events.
const webhookDrain = 3 * time.Second

// Close delivers the webhook events still queued (for at most
// webhookDrain), then closes the store and the audit log.
func (cp *controlPlane) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), webhookDrain)
	defer cancel()
	var herr error
	if cp.hooks != nil {
		herr = cp.hooks.Close(ctx)
	}
	return errors.Join(herr, cp.store.Close(), cp.audit.Close())
}

// start resumes or begins the revision history (control.Plane.Start).
func (cp *controlPlane) start(cfg *configs.Config) error {
	if err := cp.plane.Start(cfg); err != nil {
		return fmt.Errorf("control plane: %w", err)
	}
	return nil
}
