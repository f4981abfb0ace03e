package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"
)

func TestChainOf1000Verifies(t *testing.T) {
	path, _ := writeLog(t, 1000)
	rep, err := verifyFile(t, path)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Report{Entries: 1000, First: 1, Last: 1000}); rep != want {
		t.Errorf("got %+v, want %+v", rep, want)
	}
}

// TestHashIsDocumented recomputes every hash as the package doc defines
// it: SHA-256 of the line without its hash member.
func TestHashIsDocumented(t *testing.T) {
	path, _ := writeLog(t, 20)
	prev := ""
	for i, l := range readLines(t, path) {
		c, h, ok := strings.Cut(l, `,"hash":"`)
		if !ok || len(h) != 64+2 || !strings.HasSuffix(h, `"}`) {
			t.Fatalf("line %d: no hash member at the end: %s", i+1, l)
		}
		sum := sha256.Sum256([]byte(c + "}"))
		if got, want := hex.EncodeToString(sum[:]), h[:64]; got != want {
			t.Errorf("line %d: SHA-256 of the line without hash is %s, hash member %s", i+1, got, want)
		}
		if !strings.HasSuffix(c, `"prev":"`+prev+`"`) {
			t.Errorf("line %d: prev is not the previous hash %q: %s", i+1, prev, l)
		}
		prev = h[:64]
	}
}

// rehash returns the line with the entry changed by edit and its hash
// recomputed: what a careful forger would write.
func rehash(t *testing.T, line string, edit func(*Entry)) string {
	t.Helper()
	var e Entry
	if err := e.UnmarshalJSON([]byte(line)); err != nil {
		t.Fatal(err)
	}
	edit(&e)
	e.Hash = e.ComputeHash()
	b, _ := e.MarshalJSON()
	return string(b)
}

func TestVerifyDetectsTampering(t *testing.T) {
	path, _ := writeLog(t, 1000)
	orig := readLines(t, path)
	const i = 499 // index of entry 500
	tests := []struct {
		desc       string
		tamper     func([]string) []string
		wantLine   int
		wantSeq    uint64
		wantReason string
		wantReport Report
	}{
		{
			desc: "edit a field of entry 500",
			tamper: func(l []string) []string {
				l[i] = strings.Replace(l[i], `"status":200`, `"status":201`, 1)
				return l
			},
			wantLine: 500, wantSeq: 500, wantReason: "hash mismatch: the entry was edited",
			wantReport: Report{Entries: 499, First: 1, Last: 499},
		},
		{
			desc: "edit entries 500 and 700: the first is named",
			tamper: func(l []string) []string {
				l[i] = strings.Replace(l[i], `"actor":"bob"`, `"actor":"mallory"`, 1)
				l[699] = strings.Replace(l[699], `"actor":"bob"`, `"actor":"mallory"`, 1)
				return l
			},
			wantLine: 500, wantSeq: 500, wantReason: "hash mismatch",
			wantReport: Report{Entries: 499, First: 1, Last: 499},
		},
		{
			desc: "edit entry 500 and recompute its hash: the link to 501 breaks",
			tamper: func(l []string) []string {
				l[i] = rehash(t, l[i], func(e *Entry) { e.Reason = "nothing to see" })
				return l
			},
			wantLine: 501, wantSeq: 501, wantReason: "prev does not match the hash of seq 500 on line 500: link broken",
			wantReport: Report{Entries: 500, First: 1, Last: 500},
		},
		{
			desc:       "delete entry 500: a gap, not an error",
			tamper:     func(l []string) []string { return append(l[:i:i], l[i+1:]...) },
			wantReport: Report{Entries: 999, Gaps: 1, FirstGap: Gap{Line: 500, Seq: 501, After: 499}, First: 1, Last: 1000},
		},
		{
			desc: "swap entries 500 and 501",
			tamper: func(l []string) []string {
				l[i], l[i+1] = l[i+1], l[i]
				return l
			},
			wantLine: 501, wantSeq: 500, wantReason: "not after seq 501 on line 500: entries reordered or duplicated",
			wantReport: Report{Entries: 500, Gaps: 1, FirstGap: Gap{Line: 500, Seq: 501, After: 499}, First: 1, Last: 501},
		},
		{
			desc: "duplicate entry 500",
			tamper: func(l []string) []string {
				return append(l[:i+1:i+1], append([]string{l[i]}, l[i+1:]...)...)
			},
			wantLine: 501, wantSeq: 500, wantReason: "not after seq 500 on line 500: entries reordered or duplicated",
			wantReport: Report{Entries: 500, First: 1, Last: 500},
		},
		{
			desc: "truncate the middle of line 500",
			tamper: func(l []string) []string {
				l[i] = l[i][:len(l[i])/2]
				return l
			},
			wantLine: 500, wantSeq: 500, wantReason: "unparsable: unexpected EOF",
			wantReport: Report{Entries: 499, First: 1, Last: 499},
		},
		{
			desc: "change the hash of entry 500",
			tamper: func(l []string) []string {
				n := len(l[i]) - 3 // last hex digit
				l[i] = l[i][:n] + string("10"[b2i(l[i][n] == '1')]) + l[i][n+1:]
				return l
			},
			wantLine: 500, wantSeq: 500, wantReason: "hash mismatch",
			wantReport: Report{Entries: 499, First: 1, Last: 499},
		},
		{
			desc: "an added member",
			tamper: func(l []string) []string {
				l[i] = strings.Replace(l[i], `{"seq":500,`, `{"seq":500,"token":"s3cret",`, 1)
				return l
			},
			wantLine: 500, wantSeq: 500, wantReason: `unparsable: json: unknown field "token"`,
			wantReport: Report{Entries: 499, First: 1, Last: 499},
		},
		{
			desc: "an empty line",
			tamper: func(l []string) []string {
				return append(l[:i:i], append([]string{""}, l[i:]...)...)
			},
			wantLine: 500, wantReason: "unparsable: empty line",
			wantReport: Report{Entries: 499, First: 1, Last: 499},
		},
		{
			desc: "a hash that is not hex",
			tamper: func(l []string) []string {
				c, _, _ := strings.Cut(l[i], `,"hash":"`)
				l[i] = c + `,"hash":"xyz"}`
				return l
			},
			wantLine: 500, wantSeq: 500, wantReason: `malformed: hash "xyz" is not 64 lowercase hex digits`,
			wantReport: Report{Entries: 499, First: 1, Last: 499},
		},
		{
			desc: "a non-canonical time",
			tamper: func(l []string) []string {
				l[i] = strings.Replace(l[i], `.000Z"`, `Z"`, 1)
				return l
			},
			wantLine: 500, wantSeq: 500, wantReason: "unparsable: time",
			wantReport: Report{Entries: 499, First: 1, Last: 499},
		},
		{
			desc:       "remove the first entries: no gap, First tells",
			tamper:     func(l []string) []string { return l[10:] },
			wantReport: Report{Entries: 990, First: 11, Last: 1000},
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			rep, err := verifyBytes(joinLines(tt.tamper(append([]string(nil), orig...))))
			if rep != tt.wantReport {
				t.Errorf("got report %+v, want %+v", rep, tt.wantReport)
			}
			if tt.wantReason == "" {
				if err != nil {
					t.Errorf("got error %v, want none", err)
				}
				return
			}
			var verr *VerifyError
			if !errors.As(err, &verr) {
				t.Fatalf("got error %v, want a *VerifyError", err)
			}
			if verr.Line != tt.wantLine || verr.Seq != tt.wantSeq || !strings.HasPrefix(verr.Reason, tt.wantReason) {
				t.Errorf("got line %d seq %d %q, want line %d seq %d %q…", verr.Line, verr.Seq, verr.Reason, tt.wantLine, tt.wantSeq, tt.wantReason)
			}
		})
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestVerifyEdges(t *testing.T) {
	path, _ := writeLog(t, 3)
	lines := readLines(t, path)
	tests := []struct {
		desc    string
		input   string
		want    Report
		wantErr string
	}{
		{desc: "empty input", input: "", want: Report{}},
		{desc: "no final newline", input: strings.Join(lines, "\n"), want: Report{Entries: 3, First: 1, Last: 3}},
		{desc: "CRLF line ends", input: strings.Join(lines, "\r\n") + "\r\n", want: Report{Entries: 3, First: 1, Last: 3}},
		{desc: "torn last line", input: strings.Join(lines, "\n") + "\n" + `{"seq":4,"ti`, want: Report{Entries: 3, First: 1, Last: 3}, wantErr: "line 4: seq 4: unparsable"},
		{desc: "not JSON at all", input: "hello\n", wantErr: "line 1: unparsable"},
		{desc: "two objects on a line", input: lines[0] + lines[1] + "\n", wantErr: "line 1: seq 1: unparsable: data after the entry"},
		{desc: "a line over MaxLine", input: strings.Repeat("x", MaxLine+1) + "\n", wantErr: "line 1: unparsable: line longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			rep, err := Verify(strings.NewReader(tt.input))
			if rep != tt.want {
				t.Errorf("got %+v, want %+v", rep, tt.want)
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("got error %v, want none", err)
			case tt.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.wantErr)):
				t.Errorf("got error %v, want %q…", err, tt.wantErr)
			}
		})
	}
}

// TestLogVerify: a Log verifies its own file, and sees an entry edited
// in place.
func TestLogVerify(t *testing.T) {
	path, _ := writeLog(t, 5)
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.Append(sample(6)); err != nil {
		t.Fatal(err)
	}
	rep, err := l.Verify()
	if err != nil || rep.Entries != 6 || rep.First != 1 || rep.Last != 6 || rep.Gaps != 0 {
		t.Fatalf("Verify of an intact log: %+v, %v; want 6 entries 1…6 without gaps", rep, err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	edited := bytes.Replace(b, []byte(`"reason":"step 3 `), []byte(`"reason":"step 9 `), 1)
	if err := os.WriteFile(path, edited, 0o600); err != nil {
		t.Fatal(err)
	}
	rep, err = l.Verify()
	var ve *VerifyError
	if !errors.As(err, &ve) || ve.Seq != 3 || rep.Entries != 2 {
		t.Errorf("Verify of a log with seq 3 edited: %+v, %v; want a VerifyError at seq 3 after 2 entries", rep, err)
	}
	l.Close()
	if _, err := l.Verify(); !errors.Is(err, ErrClosed) {
		t.Errorf("Verify of a closed log: %v, want ErrClosed", err)
	}
}
