package api

import (
	"fmt"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"

	"github.com/smppd/smppd/store"
)

// Route is one endpoint of the router, as documented in docs/openapi.yaml. Path segments in
// braces match any one non-empty segment; other segments match case-insensitively. A
// trailing slash is tolerated on every path.
type Route struct {
	Methods []string
	Path    string
}

type route struct {
	Route
	segs    []string
	handler func(w http.ResponseWriter, r *http.Request, v vars)
}

// vars are a matched route's path values, unescaped.
type vars map[string]string

var getPost = []string{http.MethodGet, http.MethodPost}

// Routes lists every endpoint in matching order.
func (s *Server) Routes() []Route {
	out := make([]Route, len(s.routes))
	for i, r := range s.routes {
		out[i] = r.Route
	}
	return out
}

func (s *Server) routeTable() []route {
	var rs []route
	add := func(methods []string, path string, h func(http.ResponseWriter, *http.Request, vars)) {
		rs = append(rs, route{Route: Route{Methods: methods, Path: path}, segs: strings.Split(strings.TrimPrefix(path, "/"), "/"), handler: h})
	}
	const v1 = "/API/V1/{api_key}"
	add(getPost, v1+"/SMS/VERIFY/{session_id}/{otp}", s.v1Verify("VERIFY"))
	add(getPost, v1+"/SMS/VERIFY2/{session_id}/{otp}", s.v1Verify("VERIFY2"))
	add(getPost, v1+"/SMS/VERIFY3/{phone_number}/{otp}", s.v1Verify3)
	for _, mode := range []string{"AUTOGEN", "AUTOGEN2", "AUTOGEN3", "AUTOGEND", "AUTOGEND2"} {
		add(getPost, v1+"/SMS/{phone_number}/"+mode, s.v1SendOTP(mode))
		add(getPost, v1+"/SMS/{phone_number}/"+mode+"/{otp_template_name}", s.v1SendOTP(mode))
	}
	add(getPost, v1+"/SMS/{phone_number}/{otp}", s.v1SendOTP(""))
	add(getPost, v1+"/SMS/{phone_number}/{otp}/{otp_template_name}", s.v1SendOTP(""))
	add(getPost, v1+"/BAL/{service_name}", s.v1Balance(false))
	add(getPost, v1+"/ADDON_SERVICES/BAL/{service_name}", s.v1Balance(true))
	add(getPost, v1+"/ADDON_SERVICES/SEND/TSMS", s.v1Legacy(kindTrans))
	add(getPost, v1+"/ADDON_SERVICES/SEND/PSMS", s.v1Legacy(kindPromo))
	add([]string{http.MethodGet}, v1+"/SHORTLINK/STATS/{campaign_name}", s.v1LinkStats)
	add(getPost, "/API/R1", s.r1)
	add(getPost, "/API/R1/", s.r1)
	add([]string{http.MethodPost}, "/API/R1/Bulk", s.bulk)
	add([]string{http.MethodPost}, "/API/R1/Bulk/", s.bulk)
	return rs
}

// match finds the route of segs (escaped path segments without the leading empty one).
func (s *Server) match(segs []string) (*route, vars, bool) {
	for i := range s.routes {
		rt := &s.routes[i]
		if len(rt.segs) != len(segs) {
			continue
		}
		v := vars{}
		ok := true
		for j, p := range rt.segs {
			seg := segs[j]
			if strings.HasPrefix(p, "{") {
				name := p[1 : len(p)-1]
				val, err := unescapeSegment(seg, name == "otp_template_name")
				if seg == "" || err != nil {
					ok = false
					break
				}
				v[name] = val
				continue
			}
			if !strings.EqualFold(p, seg) {
				ok = false
				break
			}
		}
		if ok {
			return rt, v, true
		}
	}
	return nil, nil, false
}

// unescapeSegment decodes one escaped path segment. In template names a '+' means a space
// (clients write First+Template); a literal plus is %2B. Elsewhere (phone numbers) '+' is
// itself.
func unescapeSegment(seg string, plusIsSpace bool) (string, error) {
	if plusIsSpace {
		seg = strings.ReplaceAll(seg, "+", " ")
	}
	return url.PathUnescape(seg)
}

// serve is the root of the API's listener: it sees every request as the client sent it (no
// ServeMux in front to clean or redirect the path) and answers each one in JSON, the Bulk
// shape under /API/R1/Bulk and the envelope elsewhere.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	path := r.URL.EscapedPath()
	bulk := isBulkPath(path)
	defer s.recoverPanic(w, r, bulk)
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	rt, v, ok := s.match(segs)
	if !ok && len(segs) > 1 && segs[len(segs)-1] == "" {
		rt, v, ok = s.match(segs[:len(segs)-1])
	}
	if !ok || !strings.HasPrefix(path, "/") || hasDotSegment(segs) {
		writeRouteError(w, bulk, http.StatusNotFound, msgNoEndpoint)
		return
	}
	allowed := false
	for _, m := range rt.Methods {
		if r.Method == m {
			allowed = true
		}
	}
	if !allowed {
		w.Header().Set("Allow", strings.Join(rt.Methods, ", "))
		writeRouteError(w, bulk, http.StatusMethodNotAllowed, "HTTP "+r.Method+" is not supported on this endpoint")
		return
	}
	rt.handler(&apiWriter{ResponseWriter: w}, r, v)
}

// hasDotSegment reports a "." or ".." segment, escaped or not: such a path names no endpoint
// (it is answered 404, never redirected to its cleaned form).
func hasDotSegment(segs []string) bool {
	for _, seg := range segs {
		if u, err := url.PathUnescape(seg); err == nil && (u == "." || u == "..") {
			return true
		}
	}
	return false
}

func writeRouteError(w http.ResponseWriter, bulk bool, code int, details string) {
	if bulk {
		writeBulkError(w, code, store.NewID(), "Validation failed", "ValidationError", bulkDetail{Error: details})
		return
	}
	writeReply(w, code, reply{Status: "Error", Details: details})
}

// recoverPanic answers a handler's panic with a JSON 500 (net/http would only drop the
// connection) when no reply has begun, and logs it. http.ErrAbortHandler goes on up.
func (s *Server) recoverPanic(w http.ResponseWriter, r *http.Request, bulk bool) {
	v := recover()
	if v == nil {
		return
	}
	if v == http.ErrAbortHandler {
		panic(v)
	}
	s.o.Logger.Error().Str("panic", fmt.Sprint(v)).Str("method", r.Method).Bytes("stack", debug.Stack()).Msg("API handler panicked")
	if w.Header().Get("Content-Type") != "" {
		panic(http.ErrAbortHandler) // a reply has begun: only dropping the connection is left
	}
	writeRouteError(w, bulk, http.StatusInternalServerError, msgInternal)
}

// NotFoundHandler answers every request with the API's 404 envelope: the API listener's
// root when no account is configured.
func NotFoundHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeRouteError(w, isBulkPath(r.URL.EscapedPath()), http.StatusNotFound, msgNoEndpoint)
	})
}
