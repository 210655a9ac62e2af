package api

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smppd/smppd/store"
)

// serveRaw serves e's handler as cmd/smppd does (NewHTTPServer on a JSONErrors listener)
// and returns its address.
func serveRaw(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewHTTPServer(ln.Addr().String(), h)
	go func() { _ = srv.Serve(JSONErrors(ln)) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

type rawReply struct {
	code   int
	header http.Header
	close  bool // Connection: close
	body   []byte
	m      map[string]any
}

// rawRequest writes req as it is on a new connection and reads one reply.
func rawRequest(t *testing.T, addr, req string) rawReply {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	go func() { _, _ = io.WriteString(c, req) }() // the server may answer before it has read it all
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%.80q: reading the reply: %v", req, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%.80q: reading the body: %v", req, err)
	}
	out := rawReply{code: resp.StatusCode, header: resp.Header, close: resp.Close, body: b}
	if resp.ContentLength != int64(len(b)) {
		t.Errorf("%.80q: Content-Length %d, body %d bytes", req, resp.ContentLength, len(b))
	}
	_ = json.Unmarshal(b, &out.m)
	return out
}

// TestHostileRequestsGetJSON: whatever reaches the API's listener — unclean paths, wrong
// case, oversized or malformed requests, unknown methods and versions — is answered in JSON
// (the envelope, or the Bulk shape under /API/R1/Bulk) with a matching Content-Length, and
// never with a redirect.
func TestHostileRequestsGetJSON(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.MaxBodyBytes = 1024; o.MaxBulkBytes = 2048 })
	addr := serveRaw(t, e.h)
	big := strings.Repeat("a", MaxHeaderBytes+8<<10)
	get := func(target string, hdr ...string) string {
		return "GET " + target + " HTTP/1.1\r\nHost: x\r\n" + strings.Join(hdr, "") + "\r\n"
	}
	post := func(target, body string, hdr ...string) string {
		return "POST " + target + " HTTP/1.1\r\nHost: x\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n" + strings.Join(hdr, "") + "\r\n" + body
	}
	otpPath := "/API/V1/" + key1 + "/SMS/9812345678/AUTOGEN"
	cases := []struct {
		name    string
		req     string
		code    int
		bulk    bool   // the Bulk error shape instead of the envelope
		success bool   // a real call that works
		details string // a Details prefix ("" skips)
	}{
		{"double slash", get("//" + otpPath[1:]), 404, false, false, "Invalid URL"},
		{"dot dot", get("/API/V1/" + key1 + "/../x"), 404, false, false, "Invalid URL"},
		{"dot dot in a variable", get("/API/V1/../SMS/9812345678/AUTOGEN"), 404, false, false, "Invalid URL"},
		{"escaped dot dot", get("/%2e%2e/"), 404, false, false, "Invalid URL"},
		{"escaped dot dot in a variable", get("/API/V1/%2E%2e/SMS/9812345678/AUTOGEN"), 404, false, false, "Invalid URL"},
		{"lower case works", get("/api/v1/" + key1 + "/sms/9812345678/autogen"), 200, false, true, ""},
		{"root", get("/"), 404, false, false, "Invalid URL"},
		{"favicon", get("/favicon.ico"), 404, false, false, "Invalid URL"},
		{"options star", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", 404, false, false, "Invalid URL"},
		{"absolute form", get("http://x/API/V1/" + key1 + "/BAL/SMS"), 200, false, true, ""},
		{"huge header", get(otpPath, "X-Big: "+big+"\r\n"), 431, false, false, "Invalid HTTP request - Request Header Fields Too Large"},
		{"huge URL", get("/API/" + big), 431, false, false, "Invalid HTTP request"},
		{"huge header on Bulk", "POST /API/R1/Bulk/ HTTP/1.1\r\nHost: x\r\nX-Big: " + big + "\r\n\r\n", 431, true, false, ""},
		{"bad request line", "GARBAGE\r\n\r\n", 400, false, false, "Invalid HTTP request - Bad Request"},
		{"bad method token", "GE(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400, false, false, "Invalid HTTP request"},
		{"missing Host", "GET " + otpPath + " HTTP/1.1\r\n\r\n", 400, false, false, "Invalid HTTP request - Bad Request: missing required Host header"},
		{"malformed Host", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, false, false, "Invalid HTTP request - Bad Request: malformed Host header"},
		{"invalid header name", "GET / HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n", 400, false, false, "Invalid HTTP request"},
		{"unknown method", "BREW /API/R1 HTTP/1.1\r\nHost: x\r\n\r\n", 405, false, false, "HTTP BREW is not supported"},
		{"GET on Bulk", get("/API/R1/Bulk"), 405, true, false, ""},
		{"unknown path under Bulk", post("/api/r1/bulk/x", "{}"), 404, true, false, ""},
		{"HTTP/1.0 without Host", "GET / HTTP/1.0\r\n\r\n", 404, false, false, "Invalid URL"},
		{"HTTP/1.0 real call", "GET /API/V1/" + key1 + "/BAL/SMS HTTP/1.0\r\n\r\n", 200, false, true, ""},
		{"HTTP/2 on HTTP/1", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505, false, false, "Invalid HTTP request - HTTP Version Not Supported"},
		{"HTTP/9", "GET / HTTP/9.9\r\nHost: x\r\n\r\n", 505, false, false, "Invalid HTTP request"},
		{"body over the limit", post("/API/R1", "module=TRANS_SMS&x="+strings.Repeat("b", 2048)), 413, false, false, msgBodyTooLarge},
		{"Bulk body over the limit", post("/API/R1/Bulk/", `{"module":"`+strings.Repeat("b", 4096)+`"}`), 413, true, false, ""},
		{"chunked garbage", "POST /API/R1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzzz\r\nnot a chunk\r\n\r\n", 400, false, false, "Invalid request body"},
		{"chunked garbage on Bulk", "POST /API/R1/Bulk HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzzz\r\n\r\n", 400, true, false, ""},
		{"unknown transfer coding", "POST /API/R1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501, false, false, "Invalid HTTP request - Unsupported transfer encoding"},
		{"two content lengths", "POST /API/R1 HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400, false, false, "Invalid HTTP request"},
		{"invalid percent-encoding in the path", get("/API/%zz"), 400, false, false, "Invalid HTTP request"},
		{"invalid percent-encoding in a variable", get("/API/V1/" + key1 + "/SMS/98%2/AUTOGEN"), 400, false, false, "Invalid HTTP request"},
		{"invalid percent-encoding in the query", get("/API/R1/?module=%zz"), 400, false, false, msgMissingModule},
		{"unknown Expect", post("/API/R1", "module=X", "Expect: teapot\r\n"), 417, false, false, "Invalid HTTP request - Expectation Failed"},
		{"NUL in the path", get("/API/\x00"), 400, false, false, "Invalid HTTP request"},
		{"CONNECT", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 404, false, false, "Invalid URL"},
		{"TRACE", "TRACE /API/R1 HTTP/1.1\r\nHost: x\r\n\r\n", 405, false, false, "HTTP TRACE is not supported"},
		{"HTTP/2 preface without h2c", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 404, false, false, "Invalid URL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := rawRequest(t, addr, tc.req)
			if r.code >= 300 && r.code < 400 {
				t.Fatalf("a redirect: %d %s", r.code, r.header.Get("Location"))
			}
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q, body %s", ct, r.body)
			}
			if r.m == nil {
				t.Fatalf("not a JSON object: %d %q", r.code, r.body)
			}
			if r.code != tc.code {
				t.Errorf("HTTP %d, want %d: %s", r.code, tc.code, r.body)
			}
			switch {
			case tc.bulk:
				if r.m["success"] != false || r.m["errorType"] != "ValidationError" || r.m["requestId"] == "" {
					t.Errorf("not the Bulk error shape: %s", r.body)
				}
			case tc.success:
				if r.m["Status"] != "Success" {
					t.Errorf("want Success: %s", r.body)
				}
			default:
				d, _ := r.m["Details"].(string)
				if r.m["Status"] != "Error" || !strings.HasPrefix(d, tc.details) {
					t.Errorf("want Error %q…: %s", tc.details, r.body)
				}
			}
			if r.header.Get("Date") == "" && !r.close { // written in place of net/http's own
				t.Errorf("a rewritten error without Connection: close: %v", r.header)
			}
		})
	}
}

// panicSenderFunc runs itself in Submit: a bug somewhere in a handler's path.
type panicSenderFunc func()

func (f panicSenderFunc) Submit(context.Context, ...*store.Message) error { f(); return nil }

// TestPanicIsJSON: a handler's panic is answered with the JSON 500, in the Bulk shape on Bulk.
func TestPanicIsJSON(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Sender = panicSenderFunc(func() { panic("boom") }) })
	addr := serveRaw(t, e.h)
	body := "module=TRANS_SMS&apikey=" + key1 + "&to=9812345678&from=ACMEIN&msg=" + strings.ReplaceAll(paymentText, " ", "+")
	r := rawRequest(t, addr, "POST /API/R1/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+body)
	if r.code != 500 || r.m["Status"] != "Error" || r.m["Details"] != msgInternal {
		t.Fatalf("R1: %d %s", r.code, r.body)
	}
	bb := `{"module":"TRANS_SMS","apikey":"` + key1 + `","messages":[{"smsFrom":"ACMEIN","smsTo":"+919812345678","smsText":"` + paymentText + `"}]}`
	r = rawRequest(t, addr, "POST /API/R1/Bulk/ HTTP/1.1\r\nHost: x\r\nContent-Length: "+strconv.Itoa(len(bb))+"\r\n\r\n"+bb)
	if r.code != 500 || r.m["success"] != false {
		t.Fatalf("Bulk: %d %s", r.code, r.body)
	}
}

// TestOnlyServerWrittenErrorsAreRewritten: replies made by handlers (a Date header after
// the status line) pass untouched, whatever their status and type.
func TestOnlyServerWrittenErrorsAreRewritten(t *testing.T) {
	for _, p := range []string{
		"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nDate: Sun, 06 Dec 2026 21:23:20 GMT\r\nContent-Length: 3\r\n\r\nok\n",
		"HTTP/1.1 400 Bad Request\r\nCache-Control: no-store\r\nContent-Type: application/json; charset=utf-8\r\nDate: x\r\nContent-Length: 2\r\n\r\n{}",
		"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\nX: y\r\nConnection: close\r\n\r\n404",
		"{\"Status\":\"Error\"}",
		"HTTP/1.1 4",
	} {
		if code, _, ok := serverWrittenError([]byte(p)); ok {
			t.Errorf("%q taken for net/http's own reply (%d)", p, code)
		}
	}
	code, text, ok := serverWrittenError([]byte("HTTP/1.1 431 Request Header Fields Too Large" + plainErrorHeaders + "431 Request Header Fields Too Large"))
	if !ok || code != 431 || text != "Request Header Fields Too Large" {
		t.Errorf("431: %d %q %v", code, text, ok)
	}
}

// FuzzServerWrittenError: any write is either left alone or replaced by a well-formed JSON
// reply with the status it carried.
func FuzzServerWrittenError(f *testing.F) {
	f.Add([]byte("HTTP/1.1 400 Bad Request: missing required Host header" + plainErrorHeaders + "400 Bad Request: missing required Host header"))
	f.Add([]byte("HTTP/1.1 417 Expectation Failed\r\nConnection: close\r\nDate: x\r\nContent-Length: 0\r\n\r\n"))
	f.Add([]byte("HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"))
	f.Fuzz(func(t *testing.T, p []byte) {
		code, text, ok := serverWrittenError(p)
		if !ok {
			return
		}
		for _, bulk := range []bool{false, true} {
			resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(string(jsonErrorResponse(code, text, bulk)))), nil)
			if err != nil {
				t.Fatalf("%q: %v", p, err)
			}
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != code || !json.Valid(b) || !resp.Close {
				t.Fatalf("%q: %d %q", p, resp.StatusCode, b)
			}
		}
	})
}

// BenchmarkLoopbackBalance measures a keep-alive request over loopback with and without the
// JSONErrors wrapper, whose cost is a prefix check per write and a short copy per request:
//
//	go test -run '^$' -bench LoopbackBalance ./api/
func BenchmarkLoopbackBalance(b *testing.B) {
	e := newEnv(&testing.T{}, func(o *Options) { o.Accounts[0].RateLimit = -1 })
	for _, wrap := range []bool{false, true} {
		b.Run(map[bool]string{false: "bare", true: "JSONErrors"}[wrap], func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			srv := NewHTTPServer("", e.h)
			l := ln
			if wrap {
				l = JSONErrors(ln)
			}
			go func() { _ = srv.Serve(l) }()
			defer srv.Close()
			c := &http.Client{}
			url := "http://" + ln.Addr().String() + "/API/V1/" + key1 + "/BAL/SMS"
			for b.Loop() {
				resp, err := c.Get(url)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
}
