package configs

import "errors"

// The outcomes of a reload that are not validation mistakes (those are
// Errors). The reload loop (gateway) returns them and the admin API maps
// them to statuses; both import them from here so neither imports the
// other. Match them with errors.Is and errors.As: callers may wrap them.

// ErrShuttingDown refuses a reload because the process is shutting down:
// once shutdown began, applying a config would create endpoints, checkers
// or a tracer after their release. Nothing of that reload was applied.
var ErrShuttingDown = errors.New("shutting down: reload refused")

// FilesError is a reload's failure to load files the config names: the
// listeners' certificate, key and client-CA files, server.upstream_ca_file.
// Each entry names the setting and the file; none holds file contents.
// Nothing of that reload was applied.
type FilesError struct {
	Errs Errors
}

func (e *FilesError) Error() string { return e.Errs.Error() }
