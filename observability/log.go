package observability

import (
	"io"
	"log/slog"
)

// Logger is the gateway's structured JSON logger with a level that changes
// on reload (SetLevel).
type Logger struct {
	*slog.Logger
	level *slog.LevelVar
}

// NewLogger writes JSON lines to w at level ("debug", "info", "warn",
// "error"; anything else means info).
func NewLogger(w io.Writer, level string) *Logger {
	lv := &slog.LevelVar{}
	l := &Logger{Logger: slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lv})), level: lv}
	l.SetLevel(level)
	return l
}

// SetLevel changes the level; safe for concurrent use.
func (l *Logger) SetLevel(level string) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		lv = slog.LevelInfo
	}
	l.level.Set(lv)
}
