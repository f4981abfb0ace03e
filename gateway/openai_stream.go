package gateway

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"time"

	"github.com/modelgate/modelgate/gateway/upstream"
	"github.com/modelgate/modelgate/router/openai"
	"github.com/valyala/fasthttp"
)

// Streamed OpenAI requests ("stream": true). The upstream call reads its
// answer with fasthttp's StreamBody, into the call's own Response; the
// client gets the answer from a body stream writer (SetBodyStreamWriter)
// that relays it event by event, each complete event written and flushed
// as soon as it arrived, partial ones held until their blank line.
//
// The exchange runs forward — endpoints, retries, breakers, fallback — on
// its own goroutine, because a breaker's verdict on a stream is known only
// at its end, after the handler has returned: the attempt that got a
// stream's first bytes hands them to the handler, which returns with the
// relay as the answer's body, and the attempt waits for the relay's
// verdict. Until the first body byte, everything is as for REST: a failed
// attempt is retried or falls back, a non-2xx or non-event-stream answer
// is buffered and relayed as is. After it, nothing is retried: a broken
// upstream stream (or one over the model's timeout) ends the client's
// stream with an error event, data: {"error": {...}}, and counts as the
// endpoint's failure; a client that goes away (noticed at the next event
// written) cancels the upstream call by closing its connection.
//
// Admission slots, the in-flight gauge and the request's counts are
// released and recorded when the stream ends. The model's timeout and
// server.write_timeout bound the whole stream.

// streamBufSize is the relay's initial buffer; it grows up to
// server.max_answer_bytes for a single large event.
const streamBufSize = 16 << 10

// streamCall is one streamed request's state, shared by the handler, the
// forward goroutine and the relay, handed between them by channels.
type streamCall struct {
	g        *Gateway
	model    *modelRoute
	llm      llmCall
	maxEvent int

	resp    fasthttp.Response // the upstream answer, its body streamed
	buf     []byte            // the relay's buffer; buf[:pending] is unsent
	pending int
	version *versionRoute // the version whose stream is relayed
	live    bool          // the stream reached the client (forward goroutine only)

	// The relay's accounting (openai_tokens.go), read by the forward
	// goroutine once the relay's verdict came.
	usage          openai.Usage
	gotUsage       bool
	events         int       // data events relayed but [DONE] and usage-only ones
	firstAt, endAt time.Time // the first event's flush, the stream's end
	broken         bool      // the upstream broke the stream

	started  chan struct{} // closed by the attempt that got a stream's first bytes
	finished chan struct{} // closed by the forward goroutine when no stream started
	verdict  chan error    // the relay's verdict on the stream, for the breaker
	served   *versionRoute // with code, the result when no stream started
	code     int
}

// serveStream forwards a streamed OpenAI request (prepared: path, headers,
// body retargeted for version) and returns once its answer's first bytes
// (or a complete non-stream answer) are in hand; adm is released when the
// answer ends.
func (g *Gateway) serveStream(ctx *fasthttp.RequestCtx, model *modelRoute, version *versionRoute, pinned bool, start time.Time, lc llmCall, adm admitted, rid []byte) error {
	sc := &streamCall{
		g: g, model: model, llm: lc, maxEvent: g.maxAnswer,
		started: make(chan struct{}), finished: make(chan struct{}), verdict: make(chan error, 1),
	}
	sc.llm.stream = sc
	version.series.InFlight.Inc()
	go func() {
		served, code := g.forward(ctx, model, version, pinned, start, &sc.llm)
		version.series.InFlight.Dec()
		if sc.live {
			sc.llm.tokens.streamEnded(sc, start)
		} else {
			sc.llm.tokens.answered(served, code, ctx.Response.Body())
		}
		served.series.Request(code)
		served.series.Duration.Observe(time.Since(start).Seconds())
		adm.Release()
		if !sc.live {
			sc.served, sc.code = served, code
			close(sc.finished)
		}
	}()
	select {
	case <-sc.finished: // no stream: forward left the answer in ctx.Response
		setResponseHeaders(&ctx.Response.Header, rid, sc.served)
	case <-sc.started:
		h := &ctx.Response.Header
		sc.resp.Header.CopyTo(h)
		dropResponseHopHeaders(h) // headers.go
		h.Del(fasthttp.HeaderContentLength)
		setResponseHeaders(h, rid, sc.version)
		ctx.SetBodyStreamWriter(sc.relay)
	}
	return nil
}

// attempt is one upstream attempt of the streamed request on ep (see
// tryVersion): the call, then, for a 200 text/event-stream answer, its
// first body bytes. With them it starts the stream and waits for the
// relay's verdict; any other answer is read in full into ctx.Response.
func (sc *streamCall) attempt(ctx *fasthttp.RequestCtx, ep *upstream.Endpoint, v *versionRoute, deadline time.Time) (int, error) {
	resp := &sc.resp
	resp.Reset()
	resp.StreamBody = true
	if err := sc.g.doUpstreamInto(ctx, ep, v, resp, deadline); err != nil {
		return 0, err
	}
	status := resp.StatusCode()
	if status != fasthttp.StatusOK || !bytes.HasPrefix(resp.Header.ContentType(), []byte("text/event-stream")) {
		return status, sc.buffer(ctx)
	}
	if sc.buf == nil {
		sc.buf = make([]byte, streamBufSize)
	}
	n, err := readSome(resp.BodyStream(), sc.buf)
	if n == 0 {
		closeStream(resp, err)
		if err == io.EOF {
			err = upstream.ErrStreamEmpty
		}
		return 0, upstream.CauseOf(err)
	}
	sc.pending, sc.version, sc.live = n, v, true
	close(sc.started) // the handler returns: ctx is not ours any more
	return fasthttp.StatusOK, <-sc.verdict
}

// buffer reads a streamed call's answer that is not a stream in full into
// ctx.Response, as a REST answer is read (bounded by
// server.max_answer_bytes).
func (sc *streamCall) buffer(ctx *fasthttp.RequestCtx) error {
	resp := &sc.resp
	defer closeStream(resp, nil)
	resp.Header.CopyTo(&ctx.Response.Header)
	var body bytes.Buffer
	n, err := io.Copy(&body, io.LimitReader(resp.BodyStream(), int64(sc.maxEvent)+1))
	switch {
	case err != nil:
		return upstream.CauseOf(err)
	case n > int64(sc.maxEvent):
		return upstream.ErrAnswerTooLarge
	}
	ctx.Response.Header.Del(fasthttp.HeaderContentLength)
	ctx.Response.SetBody(body.Bytes())
	return nil
}

// readSome reads into buf until it gets a byte or an error.
func readSome(r io.Reader, buf []byte) (int, error) {
	for {
		n, err := r.Read(buf)
		if n > 0 || err != nil {
			return n, err
		}
	}
}

// closeStream ends a streamed answer's body: back to the connection pool
// after a complete read (err nil), else the connection is closed, which
// cancels the upstream call.
func closeStream(resp *fasthttp.Response, err error) {
	if err == nil {
		_ = resp.CloseBodyStream()
		return
	}
	if rc, ok := resp.BodyStream().(fasthttp.ReadCloserWithError); ok {
		_ = rc.CloseWithError(err)
	}
	_ = resp.CloseBodyStream()
}

// errClientGone closes the upstream stream of a client that went away.
var errClientGone = errors.New("client went away")

// relay is the client answer's body writer (fasthttp runs it on its own
// goroutine after the handler returned): it writes the stream's complete
// events, flushing after each read that completed some, until the
// upstream's stream ends, breaks, or the client goes away, then sends its
// verdict to the waiting attempt.
func (sc *streamCall) relay(w *bufio.Writer) {
	body := sc.resp.BodyStream()
	var verdict, closeErr error
	for {
		if end := lastEventEnd(sc.buf[:sc.pending]); end > 0 {
			if err := sc.send(w, sc.buf[:end]); err != nil {
				closeErr = errClientGone // no verdict: the endpoint did its part
				break
			}
			sc.pending = copy(sc.buf, sc.buf[end:sc.pending])
		}
		if sc.pending == len(sc.buf) {
			if len(sc.buf) >= sc.maxEvent {
				verdict = upstream.ErrEventTooLarge
				break
			}
			sc.buf = append(sc.buf, make([]byte, min(len(sc.buf), sc.maxEvent-len(sc.buf)))...)
		}
		n, err := body.Read(sc.buf[sc.pending:])
		sc.pending += n
		if err == io.EOF {
			// The upstream ended its stream: what is left (an event without
			// its blank line) is passed on as it is.
			if sc.pending > 0 {
				if werr := sc.send(w, sc.buf[:sc.pending]); werr != nil {
					closeErr = errClientGone
				}
			}
			break
		}
		if err != nil {
			verdict = upstream.CauseOf(err)
			if verdict == nil || errors.Is(verdict, io.ErrUnexpectedEOF) {
				verdict = upstream.ErrStreamCut
			}
			break
		}
	}
	sc.endAt = time.Now()
	if verdict != nil {
		sc.broken = true
		closeErr = verdict
		_ = writeFlush(w, streamErrorEvent) // the partial event held back is dropped
		sc.g.log.Warn("upstream stream failed after its first byte", "tenant", sc.model.tenant,
			"model", sc.model.name, "version", sc.version.name, "err", verdict)
	}
	closeStream(&sc.resp, closeErr)
	sc.verdict <- verdict
}

// send writes events (complete ones, or the stream's unterminated tail)
// to the client and flushes, counting them and reading the usage chunk
// (openai_tokens.go); a usage-only chunk the gateway asked for is left
// out.
func (sc *streamCall) send(w *bufio.Writer, events []byte) error {
	from, off, left := 0, 0, 0 // events[from:off] is still to be written; left: bytes left out
	for rest := events; len(rest) > 0; {
		var ev []byte
		ev, rest = openai.NextEvent(rest)
		if sc.account(ev) {
			if _, err := w.Write(events[from:off]); err != nil {
				return err
			}
			from = off + len(ev)
			left += len(ev)
		}
		off += len(ev)
	}
	if _, err := w.Write(events[from:]); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if sc.firstAt.IsZero() && left < len(events) {
		sc.firstAt = time.Now()
	}
	return nil
}

// account counts one event of the stream and reads its usage, if any. It
// reports whether the event is to be left out: the usage-only chunk
// ("choices": []) of a stream whose client did not ask for it.
func (sc *streamCall) account(ev []byte) (strip bool) {
	data := openai.EventData(ev)
	if len(data) == 0 || data[0] != '{' {
		return false // [DONE], comments, other fields
	}
	if bytes.Contains(data, []byte(`"usage"`)) {
		if u, found, empty := openai.ScanUsage(data); found {
			sc.usage, sc.gotUsage = u, true
			if empty {
				return sc.llm.tokens.addedUsage
			}
		}
	}
	sc.events++
	return false
}

// streamErrorEvent ends a stream the upstream broke.
var streamErrorEvent = openai.ErrorEvent("upstream model server failed during the stream", "upstream_stream_failed")

func writeFlush(w *bufio.Writer, b []byte) error {
	if _, err := w.Write(b); err != nil {
		return err
	}
	return w.Flush()
}

// lastEventEnd is the length of b's complete server-sent events: up to
// and including the last blank line ("\n\n", or "\r\n\r\n"), 0 for none.
func lastEventEnd(b []byte) int {
	end := 0
	if i := bytes.LastIndex(b, []byte("\n\n")); i >= 0 {
		end = i + 2
	}
	if i := bytes.LastIndex(b, []byte("\r\n\r\n")); i >= 0 && i+4 > end {
		end = i + 4
	}
	return end
}
