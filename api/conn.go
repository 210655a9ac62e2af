package api

import (
	"bytes"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/smppd/smppd/store"
)

// JSONErrors wraps the API's listener so that the replies net/http writes by itself, before
// any handler runs, reach the client in the API's JSON shape like every other reply.
//
// Why at the connection: net/http answers a request it cannot parse (headers over
// MaxHeaderBytes → 431, a malformed request line, header or Host, a missing Host on
// HTTP/1.1 → 400, an unsupported protocol version → 505, an unknown transfer coding → 501)
// and an Expect other than 100-continue (417) on its own, with no hook for the handler:
// the first group as one write of "HTTP/1.1 <code> <text>" + "Content-Type: text/plain;
// charset=utf-8\r\nConnection: close\r\n\r\n" + a plain-text body straight on the
// connection (net/http/server.go, conn.serve), the 417 as an empty response. 2Factor
// clients parse every body as JSON (several whatever the status), so such a reply is
// turned, in that one write, into a JSON reply with the same status: the envelope
// {"Status":"Error","Details":"Invalid HTTP request - …"}, or the Bulk error shape when the
// request line the connection read last named /API/R1/Bulk. Nothing else is touched:
// handlers' replies always carry a Date header after the status line, which these never
// do, and the API never answers 417 itself.
func JSONErrors(ln net.Listener) net.Listener { return jsonErrorListener{ln} }

type jsonErrorListener struct{ net.Listener }

func (l jsonErrorListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &jsonErrorConn{Conn: c, fresh: true}, nil
}

// headLen is how much of a request's first bytes the connection keeps to tell a Bulk request
// ("POST /API/R1/Bulk") from the others.
const headLen = 64

// jsonErrorConn rewrites net/http's own plain-text error replies (see JSONErrors).
type jsonErrorConn struct {
	net.Conn
	mu    sync.Mutex
	head  []byte // the first bytes of the request being read (at most headLen)
	fresh bool   // the next bytes read start a request
}

func (c *jsonErrorConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.mu.Lock()
		if c.fresh {
			c.head, c.fresh = c.head[:0], false
		}
		if room := headLen - len(c.head); room > 0 {
			c.head = append(c.head, p[:min(n, room)]...)
		}
		c.mu.Unlock()
	}
	return n, err
}

func (c *jsonErrorConn) Write(p []byte) (int, error) {
	if !bytes.HasPrefix(p, []byte("HTTP/1.")) {
		return c.Conn.Write(p)
	}
	c.mu.Lock()
	head := string(c.head)
	if !bytes.HasPrefix(p, []byte("HTTP/1.1 100 ")) {
		c.fresh = true // a reply begins: what is read next is another request
	}
	c.mu.Unlock()
	code, text, ok := serverWrittenError(p)
	if !ok {
		return c.Conn.Write(p)
	}
	if _, err := c.Conn.Write(jsonErrorResponse(code, text, isBulkPath(requestTarget(head)))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// CloseWrite lets net/http half-close after a 431 (closeWriteAndWait), as on a bare TCP
// connection.
func (c *jsonErrorConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// plainErrorHeaders is what net/http puts between the status line and the body of the
// error replies it writes itself (conn.serve's errorHeaders).
const plainErrorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

// serverWrittenError recognises one write of a reply net/http made up itself and returns
// its status code and text.
func serverWrittenError(p []byte) (int, string, bool) {
	// The plain answer to a plain-HTTP request on a TLS listener.
	if rest, ok := bytes.CutPrefix(p, []byte("HTTP/1.0 400 Bad Request\r\n\r\n")); ok {
		return http.StatusBadRequest, strings.TrimSpace(string(rest)), true
	}
	line, _, ok := bytes.Cut(p, []byte("\r\n"))
	if !ok || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) || len(line) < len("HTTP/1.1 200") {
		return 0, "", false
	}
	code, err := strconv.Atoi(string(line[len("HTTP/1.1 "):len("HTTP/1.1 200")]))
	if err != nil || code < 400 || code > 599 {
		return 0, "", false
	}
	if body, ok := bytes.CutPrefix(p[len(line):], []byte(plainErrorHeaders)); ok {
		// "431 Request Header Fields Too Large", "400 Bad Request: missing required Host
		// header", "Unsupported transfer encoding": fixed texts of net/http, never the client's.
		t := strings.TrimPrefix(string(body), strconv.Itoa(code)+" ")
		return code, t, true
	}
	if code == http.StatusExpectationFailed && !bytes.Contains(p, []byte("\r\nContent-Type:")) {
		return code, "Expectation Failed - only Expect: 100-continue is supported", true
	}
	return 0, "", false
}

// jsonErrorResponse is the whole reply replacing a server-written error: the same status,
// a JSON body, and the connection closed after it as net/http does.
func jsonErrorResponse(code int, text string, bulk bool) []byte {
	details := "Invalid HTTP request - " + text
	var body []byte
	if bulk {
		body = marshalReply(bulkError{Success: false, RequestID: store.NewID(), Error: "Validation failed", ErrorType: "ValidationError",
			Details: []bulkDetail{{Error: details}}, Timestamp: bulkTime(time.Now())})
	} else {
		body = marshalReply(reply{Status: "Error", Details: details})
	}
	var b bytes.Buffer
	b.WriteString("HTTP/1.1 " + strconv.Itoa(code) + " " + http.StatusText(code) + "\r\n")
	b.WriteString("Content-Type: application/json; charset=utf-8\r\n")
	b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n")
	b.WriteString("Cache-Control: no-store\r\nConnection: close\r\n\r\n")
	b.Write(body)
	return b.Bytes()
}

// requestTarget is the request-target of a request line's first bytes ("" when there is
// none yet).
func requestTarget(head string) string {
	_, rest, ok := strings.Cut(head, " ")
	if !ok {
		return ""
	}
	t, _, _ := strings.Cut(rest, " ")
	return t
}

// isBulkPath reports whether an (escaped) path is the Bulk endpoint's or below it: its
// replies, errors included, have the Bulk shape.
func isBulkPath(p string) bool {
	const bulk = "/API/R1/Bulk"
	return len(p) >= len(bulk) && strings.EqualFold(p[:len(bulk)], bulk) && (len(p) == len(bulk) || p[len(bulk)] == '/' || p[len(bulk)] == '?')
}
