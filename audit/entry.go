// Package audit is the gateway's tamper-evident, append-only audit log:
// one JSON line per admin mutation (including refused attempts) and per
// automated decision (file reload, rollout step, rollback).
//
// # Format
//
// The log is a file of JSON lines, one Entry per line, each line ended by
// "\n". Every member is always present, in this order:
//
//	{"seq":1,"time":"2025-01-02T03:04:05.678Z","actor":"alice","role":"operator",
//	 "remote":"10.0.0.5:51234","action":"weights","tenant":"acme","model":"fraud",
//	 "before_revision":7,"after_revision":8,"before_hash":"…","after_hash":"…",
//	 "reason":"canary 25%","status":200,"prev":"","hash":"…"}
//
// (shown folded; a line has no whitespace between members).
//
// # Hash chain
//
// seq is 1 for the first entry of a log and one more for each entry after
// it. prev is the hash of the entry before ("" for seq 1), and hash is the
// lowercase hex SHA-256 of the entry's canonical encoding C:
//
//	C    = the line without its hash member: the compact encoding/json
//	       encoding of the members seq … prev above, in that order, all present
//	       (strings escaped as encoding/json does: <, >, & and U+2028/U+2029 as
//	       \u escapes, invalid UTF-8 as U+FFFD; numbers as decimal integers;
//	       time as RFC 3339 UTC with exactly three fractional digits)
//	hash = hex(SHA-256(C))
//	line = C without its final "}", then `,"hash":"` + hash + `"}` + "\n"
//
// So a line written by Append is C with the hash appended; an edited
// member changes C and no longer matches hash, and since C contains prev,
// editing an entry and recomputing its hash breaks the next entry's link.
// The hash covers the decoded values, not the bytes: two lines that decode
// to the same members (a string written with a \u escape instead of the
// character, say) are the same entry.
//
// What the chain cannot show by itself: removing the newest entries (a
// truncated tail) leaves a valid, shorter chain. Compare the last seq
// with the one the gateway reports for its log.
//
// # Contents
//
// An Entry never holds API keys, admin tokens or their hashes, request or
// response bodies, or any other payload: the type has no field for them.
// Reason is the operator's free-text reason; callers must not put
// secrets in it.
package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// Actions recorded by the gateway. Action is a free string; these are
// the names the control plane uses.
const (
	ActionWeights     = "weights"      // PUT …/weights
	ActionRollback    = "rollback"     // POST /admin/rollback, or a rollout rolling back
	ActionReload      = "reload"       // POST /admin/reload
	ActionFileReload  = "file_reload"  // the config file changed (watch, SIGHUP)
	ActionRolloutStep = "rollout_step" // a progressive rollout moved a step
	ActionLoginFailed = "login_failed" // an admin request with a missing or unknown token (401)
)

// TimeLayout is the entry time's format: RFC 3339, UTC, millisecond
// precision ("2025-01-02T03:04:05.678Z").
const TimeLayout = "2006-01-02T15:04:05.000Z"

// MaxLine is the longest line, newline included, that Append writes and
// that Open, Query and Verify read (1 MiB). Append refuses a longer
// entry with ErrTooLong.
const MaxLine = 1 << 20

// ErrTooLong is Append's error for an entry whose line would exceed
// MaxLine (a reason of nearly a megabyte, say).
var ErrTooLong = errors.New("audit: entry longer than MaxLine")

// Entry is one audit record. The JSON form (MarshalJSON) is the line
// format described in the package documentation.
//
// An Entry never holds keys, tokens or payloads: there is no field for
// them, by design.
type Entry struct {
	// Seq is the entry's position: 1 for a log's first entry, contiguous
	// in a full log. Set by Append.
	Seq uint64
	// Time is when it happened, UTC, millisecond precision. Append sets
	// it to the current time when zero and rounds it down to the
	// millisecond otherwise.
	Time time.Time
	// Actor is the operator's name; "file" or "rollout" for automated
	// decisions; empty for a login that named no known operator.
	Actor string
	// Role is the actor's role (viewer, operator, approver, admin);
	// empty when there is none.
	Role string
	// Remote is the request's source address (host:port); empty for
	// automated decisions.
	Remote string
	// Action is what was done or attempted, e.g. ActionWeights. Required.
	Action string
	// Tenant and Model name what the action was about; either may be
	// empty (a reload is about every tenant).
	Tenant string
	Model  string
	// BeforeRevision and AfterRevision are the revision numbers before
	// and after the action; 0 means none (a refused attempt has no
	// after revision).
	BeforeRevision uint64
	AfterRevision  uint64
	// BeforeHash and AfterHash are the routing hashes of those revisions
	// (revision.Revision.Hash); may be empty.
	BeforeHash string
	AfterHash  string
	// Reason is the operator's or the automation's reason.
	Reason string
	// Status is the outcome as an HTTP status: 200 for an applied change,
	// and refused attempts too (401, 403, 404, 412, 422, …).
	Status int
	// Prev is the previous entry's Hash ("" for seq 1). Set by Append.
	Prev string
	// Hash is the hex SHA-256 of the entry's canonical encoding (see the
	// package documentation). Set by Append.
	Hash string
}

// body is the canonical encoding's shape: every member but hash, in
// order, none omitted. Its field order is part of the file format.
type body struct {
	Seq            uint64 `json:"seq"`
	Time           string `json:"time"`
	Actor          string `json:"actor"`
	Role           string `json:"role"`
	Remote         string `json:"remote"`
	Action         string `json:"action"`
	Tenant         string `json:"tenant"`
	Model          string `json:"model"`
	BeforeRevision uint64 `json:"before_revision"`
	AfterRevision  uint64 `json:"after_revision"`
	BeforeHash     string `json:"before_hash"`
	AfterHash      string `json:"after_hash"`
	Reason         string `json:"reason"`
	Status         int    `json:"status"`
	Prev           string `json:"prev"`
}

// record is a whole line as decoded: body plus hash.
type record struct {
	body
	Hash string `json:"hash"`
}

func (e Entry) body() body {
	return body{
		Seq: e.Seq, Time: e.Time.UTC().Format(TimeLayout),
		Actor: e.Actor, Role: e.Role, Remote: e.Remote, Action: e.Action,
		Tenant: e.Tenant, Model: e.Model,
		BeforeRevision: e.BeforeRevision, AfterRevision: e.AfterRevision,
		BeforeHash: e.BeforeHash, AfterHash: e.AfterHash,
		Reason: e.Reason, Status: e.Status, Prev: e.Prev,
	}
}

// canonical is C, the bytes the hash is taken over.
func (b body) canonical() []byte {
	c, err := json.Marshal(b)
	if err != nil { // strings and integers only: cannot fail
		panic("audit: encoding an entry: " + err.Error())
	}
	return c
}

// hashOf is hex(SHA-256(c)).
func hashOf(c []byte) string {
	sum := sha256.Sum256(c)
	return hex.EncodeToString(sum[:])
}

// line is C with the hash member appended, and the newline.
func line(c []byte, hash string) []byte {
	out := make([]byte, 0, len(c)+len(hash)+12)
	out = append(out, c[:len(c)-1]...)
	out = append(out, `,"hash":"`...)
	out = append(out, hash...)
	return append(out, "\"}\n"...)
}

// ComputeHash is the hash the entry's fields, Prev included, call for;
// Hash itself is ignored. An entry is intact when e.Hash == e.ComputeHash().
func (e Entry) ComputeHash() string { return hashOf(e.body().canonical()) }

// MarshalJSON encodes the entry as one line of the log, without the
// newline.
func (e Entry) MarshalJSON() ([]byte, error) {
	l := line(e.body().canonical(), e.Hash)
	return l[:len(l)-1], nil
}

// UnmarshalJSON decodes a line of the log strictly: unknown members are
// an error, and time must be in TimeLayout. Missing members decode as
// zero values.
func (e *Entry) UnmarshalJSON(b []byte) error {
	r, err := decode(b)
	if err != nil {
		return err
	}
	*e, err = r.entry()
	return err
}

// decode parses one line: one JSON object and nothing after it, no
// unknown members.
func decode(b []byte) (record, error) {
	var r record
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&r); err != nil {
		return r, err
	}
	if _, err := d.Token(); err != io.EOF {
		return r, errors.New("data after the entry")
	}
	return r, nil
}

func (r record) entry() (Entry, error) {
	t, err := time.Parse(TimeLayout, r.Time)
	if err != nil {
		return Entry{}, fmt.Errorf("time %q: not RFC 3339 UTC with milliseconds (%s)", r.Time, TimeLayout)
	}
	return Entry{
		Seq: r.Seq, Time: t.UTC(),
		Actor: r.Actor, Role: r.Role, Remote: r.Remote, Action: r.Action,
		Tenant: r.Tenant, Model: r.Model,
		BeforeRevision: r.BeforeRevision, AfterRevision: r.AfterRevision,
		BeforeHash: r.BeforeHash, AfterHash: r.AfterHash,
		Reason: r.Reason, Status: r.Status, Prev: r.Prev, Hash: r.Hash,
	}, nil
}

// isHash reports whether s is a hex SHA-256 as this package writes it:
// 64 lowercase hex digits.
func isHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
