package shadow

import (
	"errors"
	"slices"

	"github.com/klauspost/compress/zstd"
	"github.com/valyala/fasthttp"
)

// errShadowTooLarge: an answer is, or inflates to, more than
// shadow.max_body_bytes. The comparison counts it as unreadable.
var errShadowTooLarge = errors.New("answer over shadow.max_body_bytes")

// errUnsupportedEncoding: an answer in a Content-Encoding the comparison
// does not decode (unreadable).
var errUnsupportedEncoding = errors.New("unsupported content encoding")

// decoder inflates the two answers of a comparison, each to at most
// the shadow's max_body_bytes, into buffers it keeps for the next job. It
// belongs to one pool worker (not safe for concurrent use); close it when
// the worker exits.
//
// Memory per worker: the two buffers (≤ max_body_bytes each) plus the
// decoder's window: 32 KiB for gzip and deflate, up to 16 MiB for br (the
// format's largest), and for zstd at most max_body_bytes (a frame that needs
// a larger window is refused).
type decoder struct {
	primary, shadow []byte      // inflated answers, reused
	w               limitWriter // here, not on the stack: fasthttp keeps it as an io.Writer
	zstd            *zstd.Decoder
	zstdLimit       int // the limit zstd was built with
}

// decode returns body decoded from its Content-Encoding (gzip, deflate, br,
// zstd; identity as is) into *buf, failing with errShadowTooLarge once the
// decoded answer would pass limit bytes: a bomb costs at most limit bytes
// and the time to inflate them.
func (d *decoder) decode(enc, body []byte, limit int, buf *[]byte) ([]byte, error) {
	if e := string(enc); e == "" || e == "identity" {
		if len(body) > limit {
			return nil, errShadowTooLarge
		}
		return body, nil
	}
	w := &d.w
	w.b, w.max = (*buf)[:0], limit
	var err error
	switch string(enc) {
	case "gzip":
		_, err = fasthttp.WriteGunzip(w, body)
	case "deflate":
		_, err = fasthttp.WriteInflate(w, body)
	case "br":
		_, err = fasthttp.WriteUnbrotli(w, body)
	case "zstd":
		w.b, err = d.unzstd(body, w.b, limit)
	default:
		err = errUnsupportedEncoding
	}
	out := w.b
	*buf, w.b = out, nil
	if err != nil {
		return nil, err
	}
	return out, nil
}

// unzstd decodes body onto dst with a decoder whose memory (output and
// window) is capped at limit.
func (d *decoder) unzstd(body, dst []byte, limit int) ([]byte, error) {
	if d.zstd == nil || d.zstdLimit != limit {
		d.close()
		zd, err := zstd.NewReader(nil,
			zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderMaxMemory(uint64(limit)),
			zstd.WithDecoderMaxWindow(uint64(max(limit, zstd.MinWindowSize))))
		if err != nil {
			return dst, err
		}
		d.zstd, d.zstdLimit = zd, limit
	}
	out, err := d.zstd.DecodeAll(body, dst)
	if errors.Is(err, zstd.ErrDecoderSizeExceeded) || errors.Is(err, zstd.ErrWindowSizeExceeded) || len(out) > limit {
		return out[:0], errShadowTooLarge
	}
	return out, err
}

// close releases the zstd decoder.
func (d *decoder) close() {
	if d.zstd != nil {
		d.zstd.Close()
		d.zstd = nil
	}
}

// limitWriter appends to b, at most max bytes in all: a write that would
// pass max appends nothing and fails with errShadowTooLarge, which stops
// the decoder copying into it. b never grows beyond max.
type limitWriter struct {
	b   []byte
	max int
}

func (w *limitWriter) Write(p []byte) (int, error) {
	if len(p) > w.max-len(w.b) {
		return 0, errShadowTooLarge
	}
	if n := len(w.b) + len(p); n > cap(w.b) {
		w.b = slices.Grow(w.b, min(w.max, max(2*cap(w.b), n))-len(w.b))
	}
	w.b = append(w.b, p...)
	return len(p), nil
}
