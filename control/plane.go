// Package control is modelgate's control plane: it decides which routing
// the gateway serves and keeps every routing it serves as a revision
// (package revision). Three things change routing, all through a Plane:
// the config file (ApplyFile, on every reload of a changed file), an
// operator's weight change (SetWeights) and a rollback to an earlier
// revision (Rollback). Each one becomes a new revision on top of the
// running one, is stored before it is applied, and is applied atomically
// (the gateway's Apply swaps one snapshot).
//
// Semantics (README, "Operating routing"):
//   - a changed config file becomes a revision of source "file"; it wins
//     over the API and rollback changes made since (Overrode names them);
//   - API and rollback revisions do not rewrite the file (it may be a
//     read-only ConfigMap): the running routing then drifts from it
//     (Drift, modelgate_config_drift);
//   - on restart the latest revision is resumed when the file is the one
//     it was based on (same hash); if the file changed while the gateway
//     was down, the file wins.
//
// The Plane serializes its operations with one mutex; reads of the
// running revision are lock-free.
package control

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/revision"
	"github.com/prometheus/client_golang/prometheus"
)

// Store keeps revisions (revision.Store).
type Store interface {
	Append(r *revision.Revision) (*revision.Revision, error)
	Latest() (*revision.Revision, bool, error)
	Get(n uint64) (*revision.Revision, bool, error)
	Summaries(before uint64, limit int) ([]*revision.Revision, error)
}

// Gateway is what the Plane drives: the traffic side's Apply (gateway.Gateway).
type Gateway interface {
	Apply(cfg *configs.Config) error
}

// Owner owns some models' weights (the rollout controller). The Plane
// passes every routing it commits through Overlay, so a file reload, an
// operator's change or a rollback never undoes what the owner set, and
// refuses SetWeights on a model the owner Owns. Both are called with the
// Plane's lock held: they must not call back into the Plane.
type Owner interface {
	// Overlay returns routing with the owned models as the owner sets
	// them, file being the config file's tenants (what an owned model
	// returns to where the owner sets nothing, e.g. its shadow); it never
	// modifies routing (copy what changes, share the rest).
	Overlay(routing, file []configs.Tenant) []configs.Tenant
	// Owns reports whether tenant/model's weights are the owner's now.
	Owns(tenant, model string) bool
}

// ErrOwned: the model's weights belong to an active rollout (409).
var ErrOwned = errors.New("the model's weights are owned by its rollout: pause, abort or finish it, or remove the rollout block from the config file")

// Decision is an automated change the Plane made (a file revision, a
// resume at start), for the audit log. Operators' changes are recorded
// by the admin API, which knows who asked.
type Decision struct {
	Action         string // "file_reload", "start_resume", "start_file"
	Before, After  *revision.Revision
	Reason         string
	AppliedChanges []revision.Change
}

// Plane owns the running revision. Create it with New, then Start it with
// the config file loaded at startup before traffic is served.
type Plane struct {
	store   Store
	gw      Gateway
	log     *slog.Logger
	decided func(Decision) // nil: not recorded
	owner   Owner          // nil: no overlay

	mu      sync.Mutex // serializes Start, ApplyFile, SetWeights, Rollback
	file    *configs.Config
	running atomic.Pointer[revision.Revision]
	drift   atomic.Bool

	driftGauge, revGauge prometheus.Gauge
}

// New returns a Plane that stores revisions in store and applies them to
// gw. decided, if set, is told of every automated decision. Its metrics
// (modelgate_config_revision, modelgate_config_drift) are registered in
// reg.
func New(store Store, gw Gateway, log *slog.Logger, reg prometheus.Registerer, decided func(Decision)) *Plane {
	p := &Plane{store: store, gw: gw, log: log, decided: decided,
		driftGauge: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "modelgate", Name: "config_drift",
			Help: "1 while the running routing differs from the config file (changed through the admin API or a rollback), else 0."}),
		revGauge: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "modelgate", Name: "config_revision",
			Help: "Number of the routing revision now serving."}),
	}
	reg.MustRegister(p.driftGauge, p.revGauge)
	return p
}

// SetOwner makes o the owner of the models it Owns; call it before Start.
func (p *Plane) SetOwner(o Owner) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.owner = o
}

// Errors of the Plane's operations, mapped to statuses by the admin API.
var (
	// ErrStale: the If-Match revision is not the running one (412).
	ErrStale = errors.New("the routing changed since the revision named in If-Match")
	// ErrNotFound: no such tenant, model or revision (404).
	ErrNotFound = errors.New("not found")
)

// InvalidError is a change refused by validation (422): Path names the
// field of the request ("weights.v3"), Msg what is wrong with it.
type InvalidError struct{ Path, Msg string }

func (e *InvalidError) Error() string { return e.Path + ": " + e.Msg }

// Start resumes or begins the revision history with file, the config
// loaded at startup: if the latest stored revision was based on this very
// file (same hash), it is resumed and applied; otherwise file wins and
// becomes a new revision (the first one, or one on top of the latest).
func (p *Plane) Start(file *configs.Config) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.file = file
	latest, ok, err := p.store.Latest()
	if err != nil {
		return fmt.Errorf("reading the latest revision: %w", err)
	}
	if ok && latest.FileHash == file.Hash {
		if p.owner != nil {
			if routing := p.owner.Overlay(latest.Routing, file.Tenants); revision.RoutingHash(routing) != latest.Hash {
				// The owner's state is newer than the latest revision
				// (it was saved, then the gateway stopped before the
				// revision was): resume it as a revision of its own.
				r, err := p.commit(latest, &revision.Revision{Source: revision.SourceRollout, Actor: "rollout",
					Reason: "rollout state resumed at start", Routing: routing})
				if err != nil {
					return err
				}
				p.decide(Decision{Action: "start_resume", Before: latest, After: r, Reason: r.Reason, AppliedChanges: r.Changes})
				return nil
			}
		}
		if err := p.gw.Apply(p.effective(latest.Routing)); err != nil {
			return err
		}
		p.setRunning(latest)
		p.log.Info("routing revision resumed", "revision", latest.N, "source", latest.Source, "drift", p.drift.Load())
		p.decide(Decision{Action: "start_resume", Before: latest, After: latest, Reason: "config file unchanged since this revision"})
		return nil
	}
	var before *revision.Revision
	if ok {
		before = latest
	}
	r, err := p.commit(before, &revision.Revision{Source: revision.SourceFile, Actor: "file",
		Reason: startReason(ok), Routing: file.Tenants})
	if err != nil {
		return err
	}
	p.decide(Decision{Action: "start_file", Before: before, After: r, Reason: r.Reason, AppliedChanges: r.Changes})
	return nil
}

func startReason(hadHistory bool) string {
	if hadHistory {
		return "config file changed while the gateway was down"
	}
	return "first start"
}

// ApplyFile makes a changed config file the running routing: a new
// revision of source "file" that wins over the API and rollback changes
// since the last file revision (listed in its Overrode). The reload path
// calls it instead of the gateway's Apply.
func (p *Plane) ApplyFile(file *configs.Config) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	before := p.running.Load()
	var overrode []revision.Change
	if p.drift.Load() && p.file != nil {
		// What the API and rollbacks had changed against the old file:
		// the new file replaces all of it.
		overrode = revision.Diff(p.file.Tenants, before.Routing)
	}
	p.file = file
	r, err := p.commit(before, &revision.Revision{Source: revision.SourceFile, Actor: "file",
		Reason: "config file reloaded", Routing: file.Tenants, Overrode: overrode})
	if err != nil {
		return err
	}
	p.decide(Decision{Action: "file_reload", Before: before, After: r, Reason: r.Reason, AppliedChanges: r.Changes})
	return nil
}

// SetWeights sets the complete split of tenant/model (every version
// named, none unknown, none negative, not all zero) as a new revision of
// source "api" by actor. ifMatch, if not 0, must be the running revision's
// number (ErrStale otherwise); visible says which tenants the caller may
// see (ErrNotFound for others).
func (p *Plane) SetWeights(actor string, visible func(string) bool, tenant, model string, weights map[string]int, ifMatch uint64, reason string) (*revision.Revision, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	before := p.running.Load()
	if ifMatch != 0 && ifMatch != before.N {
		return nil, ErrStale
	}
	if p.owner != nil && p.owner.Owns(tenant, model) && visible(tenant) {
		return nil, ErrOwned
	}
	routing, err := withWeights(before.Routing, visible, tenant, model, weights)
	if err != nil {
		return nil, err
	}
	return p.commit(before, &revision.Revision{Source: revision.SourceAPI, Actor: actor, Reason: reason, Routing: routing})
}

// Rollback restores revision to's routing as a new revision of source
// "rollback" by actor: for every tenant, or, when scope is not nil, for
// the tenants scope names only (the others keep their running routing; a
// tenant of scope that revision to did not have is ErrNotFound). API keys
// are never rolled back: each tenant the config file has keeps the file's
// keys, so a key rotation is not undone (a tenant only the old revision
// has comes back with the key hashes it had then). ifMatch as in
// SetWeights.
func (p *Plane) Rollback(actor string, scope []string, to uint64, ifMatch uint64, reason string) (*revision.Revision, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	before := p.running.Load()
	if ifMatch != 0 && ifMatch != before.N {
		return nil, ErrStale
	}
	old, ok, err := p.store.Get(to)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("revision %d: %w", to, ErrNotFound)
	}
	routing, err := rolledBack(before.Routing, old.Routing, p.file.Tenants, scope)
	if err != nil {
		return nil, err
	}
	if reason == "" {
		reason = fmt.Sprintf("rollback to revision %d", to)
	}
	return p.commit(before, &revision.Revision{Source: revision.SourceRollback, Actor: actor, Reason: reason, Routing: routing})
}

// Reapply commits the running routing through the owner's Overlay as a
// revision of source "rollout" by actor: the owner calls it after changing
// what it overlays. Nothing is stored when the overlay changes nothing
// (the running revision is returned).
func (p *Plane) Reapply(actor, reason string) (*revision.Revision, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	before := p.running.Load()
	if before == nil {
		return nil, errors.New("the control plane has not started")
	}
	if p.owner == nil || revision.RoutingHash(p.owner.Overlay(before.Routing, p.file.Tenants)) == before.Hash {
		return before, nil
	}
	return p.commit(before, &revision.Revision{Source: revision.SourceRollout, Actor: actor, Reason: reason, Routing: before.Routing})
}

// commit validates r's routing with the file's other settings, stores r on
// top of before (its number, time, hash, changes and weight sources) and
// applies it. The owner's overlay is applied to r's routing first. Called
// with p.mu held.
func (p *Plane) commit(before, r *revision.Revision) (*revision.Revision, error) {
	if p.owner != nil {
		r.Routing = p.owner.Overlay(r.Routing, p.file.Tenants)
	}
	cfg := p.effective(r.Routing)
	if err := cfg.Validate(); err != nil {
		return nil, &InvalidError{Path: "routing", Msg: err.Error()}
	}
	r.FileHash = p.file.Hash
	r.Time = time.Now().UTC()
	if before != nil {
		r.Changes = revision.Diff(before.Routing, r.Routing)
	}
	r.WeightSources = weightSources(before, r, p.file.Tenants)
	stored, err := p.store.Append(r)
	if err != nil {
		return nil, fmt.Errorf("storing the revision: %w", err)
	}
	if err := p.gw.Apply(cfg); err != nil {
		return nil, err
	}
	p.setRunning(stored)
	p.log.Info("routing revision applied", "revision", stored.N, "source", stored.Source, "actor", stored.Actor,
		"changes", len(stored.Changes), "drift", p.drift.Load())
	return stored, nil
}

// effective is the config the gateway runs for routing: the file's
// settings with routing's tenants. Its Hash stays the file's, so an
// unchanged file is recognised as such by the reload path.
func (p *Plane) effective(routing []configs.Tenant) *configs.Config {
	c := *p.file
	c.Tenants = routing
	return &c
}

func (p *Plane) setRunning(r *revision.Revision) {
	p.running.Store(r)
	p.drift.Store(r.Hash != revision.RoutingHash(p.file.Tenants))
	p.revGauge.Set(float64(r.N))
	if p.drift.Load() {
		p.driftGauge.Set(1)
	} else {
		p.driftGauge.Set(0)
	}
}

func (p *Plane) decide(d Decision) {
	if p.decided != nil {
		p.decided(d)
	}
}

// Running is the revision now serving (nil before Start).
func (p *Plane) Running() *revision.Revision { return p.running.Load() }

// Drift reports whether the running routing differs from the config file.
func (p *Plane) Drift() bool { return p.drift.Load() }

// FileHash is the hash of the config file last loaded.
func (p *Plane) FileHash() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.file.Hash
}

// Revisions lists stored revisions newest first, those numbered below
// before (0: from the newest), at most limit, without their routing
// (Revision has it).
func (p *Plane) Revisions(before uint64, limit int) ([]*revision.Revision, error) {
	return p.store.Summaries(before, limit)
}

// Revision returns stored revision n.
func (p *Plane) Revision(n uint64) (*revision.Revision, bool, error) { return p.store.Get(n) }
