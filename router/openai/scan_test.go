package openai

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestScan(t *testing.T) {
	tests := []struct {
		desc    string
		body    string
		want    Request // spans checked separately
		wantErr error
	}{
		{desc: "chat", body: `{"model":"llama","messages":[{"role":"user","content":"hi"}]}`, want: Request{Model: []byte("llama")}},
		{desc: "stream and user", body: ` { "messages": [], "stream" : true, "user": "u-1", "model": "m@v2" } `,
			want: Request{Model: []byte("m@v2"), Stream: true, User: []byte("u-1")}},
		{desc: "include usage", body: `{"model":"m","stream":true,"stream_options":{"include_usage":true}}`,
			want: Request{Model: []byte("m"), Stream: true, IncludeUsage: true}},
		{desc: "nulls", body: `{"model":"m","stream":null,"user":null,"stream_options":null}`, want: Request{Model: []byte("m")}},
		{desc: "nested fields are not routed on", body: `{"messages":[{"model":"x","stream":true,"user":"y"}],"model":"m","tools":{"a":{"b":[1,-2.5e3,true,false,null,"s\"\\"]}}}`,
			want: Request{Model: []byte("m")}},
		{desc: "escaped model kept raw", body: `{"model":"m\u0031"}`, want: Request{Model: []byte(`m\u0031`)}},
		{desc: "escaped key is another field", body: `{"model":"m","mod\u0065l":"x"}`, want: Request{Model: []byte("m")}},
		{desc: "other stream_options", body: `{"model":"m","stream_options":{"x":[1],"include_usage":false}}`, want: Request{Model: []byte("m")}},

		{desc: "no model", body: `{"messages":[]}`, wantErr: ErrNoModel},
		{desc: "empty object", body: `{}`, wantErr: ErrNoModel},
		{desc: "model not a string", body: `{"model":7}`, wantErr: ErrFieldType},
		{desc: "stream not a bool", body: `{"model":"m","stream":"yes"}`, wantErr: ErrFieldType},
		{desc: "user not a string", body: `{"model":"m","user":1}`, wantErr: ErrFieldType},
		{desc: "stream_options not an object", body: `{"model":"m","stream_options":[]}`, wantErr: ErrFieldType},
		{desc: "duplicate model", body: `{"model":"a","model":"b"}`, wantErr: ErrDuplicate},
		{desc: "duplicate stream", body: `{"model":"a","stream":false,"stream":true}`, wantErr: ErrDuplicate},
		{desc: "array", body: `["model"]`, wantErr: ErrMalformed},
		{desc: "empty", body: ``, wantErr: ErrMalformed},
		{desc: "trailing bytes", body: `{"model":"m"} x`, wantErr: ErrMalformed},
		{desc: "two objects", body: `{"model":"m"}{}`, wantErr: ErrMalformed},
		{desc: "unterminated string", body: `{"model":"m`, wantErr: ErrMalformed},
		{desc: "bad escape", body: `{"model":"m","x":"\q"}`, wantErr: ErrMalformed},
		{desc: "control character", body: "{\"model\":\"m\",\"x\":\"a\x01\"}", wantErr: ErrMalformed},
		{desc: "missing colon", body: `{"model" "m"}`, wantErr: ErrMalformed},
		{desc: "trailing comma", body: `{"model":"m",}`, wantErr: ErrMalformed},
		{desc: "bad number", body: `{"model":"m","x":--1}`, wantErr: ErrMalformed},
		{desc: "leading zero", body: `{"model":"m","x":01}`, wantErr: ErrMalformed},
		{desc: "bare exponent", body: `{"model":"m","x":1e}`, wantErr: ErrMalformed},
		{desc: "bad literal", body: `{"model":"m","x":tru}`, wantErr: ErrMalformed},
		{desc: "unclosed array", body: `{"model":"m","x":[1,2}`, wantErr: ErrMalformed},
		{desc: "too deep", body: `{"model":"m","x":` + deep(100) + `}`, wantErr: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			got, err := Scan([]byte(tt.body))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got error %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if string(got.Model) != string(tt.want.Model) || got.Stream != tt.want.Stream ||
				string(got.User) != string(tt.want.User) || (got.User == nil) != (tt.want.User == nil) || got.IncludeUsage != tt.want.IncludeUsage {
				t.Errorf("got {%q %v %q %v}, want {%q %v %q %v}", got.Model, got.Stream, got.User, got.IncludeUsage,
					tt.want.Model, tt.want.Stream, tt.want.User, tt.want.IncludeUsage)
			}
			if span := tt.body[got.ModelStart:got.ModelEnd]; span != `"`+string(got.Model)+`"` {
				t.Errorf("model span %q, want the quoted model", span)
			}
		})
	}
}

func deep(n int) string {
	s := ""
	for range n {
		s += "["
	}
	for range n {
		s += "]"
	}
	return s
}

// TestScanAgreesWithEncodingJSON: every body Scan accepts is valid JSON
// whose top-level fields are the ones Scan read.
func TestScanAgreesWithEncodingJSON(t *testing.T) {
	for _, body := range []string{
		`{"model":"a","stream":true,"user":"x y","stream_options":{"include_usage":true},"n":[1,{"k":"v"}]}`,
		`{"messages":[{"role":"system","content":[{"type":"text","text":"\"quoted\" \\ \/ \b\f\n\r\t \u00e9"}]}],"model":"m"}`,
	} {
		r, err := Scan([]byte(body))
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		var v struct {
			Model  string `json:"model"`
			Stream bool   `json:"stream"`
			User   string `json:"user"`
		}
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Fatalf("%s: encoding/json: %v", body, err)
		}
		if v.Model != string(r.Model) || v.Stream != r.Stream || v.User != string(r.User) {
			t.Errorf("%s: Scan read {%q %v %q}, encoding/json {%q %v %q}", body, r.Model, r.Stream, r.User, v.Model, v.Stream, v.User)
		}
	}
}

func TestScanDoesNotAllocate(t *testing.T) {
	body := []byte(`{"model":"llama@v2","messages":[{"role":"user","content":"hello"}],"stream":true,"user":"u","stream_options":{"include_usage":true},"max_tokens":16}`)
	if n := testing.AllocsPerRun(100, func() { _, _ = Scan(body) }); n != 0 {
		t.Errorf("got %v allocations per Scan, want 0", n)
	}
}

func TestSetModel(t *testing.T) {
	body := `{"model":"chat","messages":[]}`
	tests := []struct {
		desc, quoted, want string
		inPlace            bool
	}{
		{"same length", `"tiny"`, `{"model":"tiny","messages":[]}`, true},
		{"longer", `"meta-llama/Llama-3.1-8B"`, `{"model":"meta-llama/Llama-3.1-8B","messages":[]}`, false},
		{"shorter", `"x"`, `{"model":"x","messages":[]}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			b := []byte(body)
			r, err := Scan(b)
			if err != nil {
				t.Fatal(err)
			}
			got := SetModel(make([]byte, 0, 64), b, r, []byte(tt.quoted))
			if string(got) != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
			if inPlace := &got[0] == &b[0]; inPlace != tt.inPlace {
				t.Errorf("in place: got %v, want %v", inPlace, tt.inPlace)
			}
		})
	}
	b := []byte(body)
	r, _ := Scan(b)
	dst := make([]byte, 0, 128)
	if n := testing.AllocsPerRun(100, func() { _ = SetModel(dst, b, r, []byte(`"longer-name"`)) }); n != 0 {
		t.Errorf("got %v allocations per SetModel into a large enough dst, want 0", n)
	}
}

func TestSplitPin(t *testing.T) {
	for _, tt := range []struct{ in, name, version string }{
		{"m", "m", ""}, {"m@v2", "m", "v2"}, {"m@", "m", ""}, {"@v", "", "v"}, {"a@b@c", "a@b", "c"},
	} {
		n, v := SplitPin([]byte(tt.in))
		if string(n) != tt.name || string(v) != tt.version {
			t.Errorf("SplitPin(%q): got %q, %q, want %q, %q", tt.in, n, v, tt.name, tt.version)
		}
	}
}

func TestWireBodies(t *testing.T) {
	var e struct {
		Error struct{ Message, Type, Code string } `json:"error"`
	}
	if err := json.Unmarshal(ErrorBody("model not found", TypeOf(404), "model_not_found"), &e); err != nil ||
		e.Error.Message != "model not found" || e.Error.Type != TypeInvalidRequest || e.Error.Code != "model_not_found" {
		t.Errorf("ErrorBody: got %+v (%v)", e, err)
	}
	ev := ErrorEvent("upstream stream failed", "upstream_stream_failed")
	if string(ev[:6]) != "data: " || string(ev[len(ev)-2:]) != "\n\n" || json.Unmarshal(ev[6:len(ev)-2], &e) != nil || e.Error.Type != TypeServer {
		t.Errorf("ErrorEvent: got %q", ev)
	}
	var list struct {
		Object string
		Data   []struct{ ID, Object, OwnedBy string } `json:"data"`
	}
	if err := json.Unmarshal(ModelList("acme", []string{"b", "a"}), &list); err != nil || list.Object != "list" || len(list.Data) != 2 ||
		list.Data[0].ID != "a" || list.Data[1].ID != "b" || list.Data[0].Object != "model" {
		t.Errorf("ModelList: got %+v (%v)", list, err)
	}
	for code, want := range map[int]string{400: TypeInvalidRequest, 401: TypeAuthentication, 404: TypeInvalidRequest, 429: TypeRateLimit, 502: TypeServer} {
		if got := TypeOf(code); got != want {
			t.Errorf("TypeOf(%d): got %s, want %s", code, got, want)
		}
	}
}

// FuzzScan: Scan never panics, accepts only valid JSON, and its model span
// is the quoted model.
func FuzzScan(f *testing.F) {
	for _, s := range []string{`{"model":"m","stream":true}`, `{"model":"a","messages":[{"content":"x"}]}`, `{"model":"m\"x"}`, `[1]`, `{"a":-1e5}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := Scan(body)
		if err != nil {
			return
		}
		if !json.Valid(body) {
			t.Fatalf("Scan accepted invalid JSON %q", body)
		}
		if string(body[r.ModelStart:r.ModelEnd]) != `"`+string(r.Model)+`"` {
			t.Fatalf("%q: model span %d:%d does not hold the quoted model %q", body, r.ModelStart, r.ModelEnd, r.Model)
		}
	})
}
