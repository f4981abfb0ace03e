package llmserver

import (
	"bufio"
	"io"
	"strings"
	"time"
)

// Event is one server-sent event as a client read it.
type Event struct {
	Data string    // the data field's value ("[DONE]" for the end marker)
	At   time.Time // when the client had read it in full
}

// ReadEvents reads server-sent events from r (the body of a
// text/event-stream answer) until it ends, or until each returns false,
// calling each with every event's data as soon as its blank line arrives.
// It returns the events read and the read error that ended them, nil at
// a clean end or when each stopped it (io.EOF is not an error).
func ReadEvents(r io.Reader, each func(Event) bool) ([]Event, error) {
	br := bufio.NewReader(r)
	var events []Event
	var data []string
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			if err == io.EOF && line == "" && len(data) == 0 {
				return events, nil
			}
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return events, err
		}
		line = strings.TrimRight(line, "\r\n")
		if line != "" {
			if v, ok := strings.CutPrefix(line, "data:"); ok {
				data = append(data, strings.TrimPrefix(v, " "))
			}
			continue
		}
		if len(data) == 0 {
			continue
		}
		ev := Event{Data: strings.Join(data, "\n"), At: time.Now()}
		data = data[:0]
		events = append(events, ev)
		if each != nil && !each(ev) {
			return events, nil
		}
	}
}
