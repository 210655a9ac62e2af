package smsc

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
)

// HTTPHandler returns the control and inspection API (JSON; see docs/smscsim.md). It serves
// no /metrics: the simulator exports its numbers through Stats, and cmd/smscsim mounts a
// Prometheus handler next to this one, so the package links no metrics library.
func (srv *Server) HTTPHandler() http.Handler { return srv.http }

// newHTTPHandler builds the control API once per server (HTTPHandler hands out the same
// one). The routes are grouped by what a test or an operator does with them: look at what
// arrived, drive the binds, change an account's behaviour, and make the operator send.
func (srv *Server) newHTTPHandler() http.Handler {
	mux := http.NewServeMux()
	srv.routeInspection(mux)
	srv.routeBinds(mux)
	srv.routeAccounts(mux)
	srv.routeTraffic(mux)
	return mux
}

// routeInspection serves what the simulator saw: health, stored messages and counters,
// and a reset so one simulator can serve several test cases in turn.
func (srv *Server) routeInspection(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", srv.httpHealth)
	mux.HandleFunc("GET /api/messages", srv.httpMessages)
	mux.HandleFunc("GET /api/messages/{id}", srv.httpMessage)
	mux.HandleFunc("GET /api/counters", srv.httpCounters)
	mux.HandleFunc("POST /api/reset", srv.httpReset)
}

// routeBinds lists binds and ends them the two ways a carrier does: dropping the
// connection, or unbinding gracefully while submits are still in flight.
func (srv *Server) routeBinds(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/binds", srv.httpBinds)
	mux.HandleFunc("DELETE /api/binds/{id}", srv.httpDisconnect)
	mux.HandleFunc("POST /api/binds/{id}/unbind", srv.httpUnbind)
	mux.HandleFunc("POST /api/binds/unbind", srv.httpUnbindAll)
}

// routeAccounts reads accounts and changes their behaviour at run time. Each setting has
// its own PUT so a test changes one thing (say the faults) without restating the rest.
func (srv *Server) routeAccounts(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/accounts", srv.httpAccounts)
	mux.HandleFunc("GET /api/accounts/{system_id}", srv.httpAccount)
	srv.putSetting(mux, "outcomes", jsonSetting(srv.SetOutcomes))
	srv.putSetting(mux, "latency", jsonSetting(srv.SetLatency))
	srv.putSetting(mux, "throttle", jsonSetting(srv.SetThrottle))
	srv.putSetting(mux, "faults", jsonSetting(srv.SetFaults))
	srv.putSetting(mux, "dlt", jsonSetting(srv.SetDLT))
	srv.putSetting(mux, "binds/refuse", jsonSetting(func(id string, v struct {
		Status string `json:"status"`
	}) error {
		return srv.RefuseBinds(id, v.Status)
	}))
	srv.putSetting(mux, "binds/max", jsonSetting(func(id string, v struct {
		MaxBinds int `json:"max_binds"`
	}) error {
		return srv.SetMaxBinds(id, v.MaxBinds)
	}))
}

// routeTraffic makes the operator send on its own: MO messages, and receipt storms.
func (srv *Server) routeTraffic(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/mo", srv.httpMO)
	mux.HandleFunc("POST /api/flood", srv.httpFloodStart)
	mux.HandleFunc("GET /api/flood", srv.httpFloods)
	mux.HandleFunc("DELETE /api/flood", srv.httpFloodStop)
}

func (srv *Server) httpHealth(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "smpp_addr": srv.Addr()})
}

func (srv *Server) httpMessage(w http.ResponseWriter, r *http.Request) {
	m, ok := srv.Message(r.PathValue("id"))
	if !ok {
		writeErr(w, http.StatusNotFound, errors.New("no stored message with that id"))
		return
	}
	writeJSON(w, http.StatusOK, m)
}

// httpCounters answers the totals and each account's counters in one reply, so a test
// reads a consistent-enough picture with one request.
func (srv *Server) httpCounters(w http.ResponseWriter, r *http.Request) {
	per := map[string]Counters{}
	for _, a := range srv.Stats().Accounts {
		per[a.SystemID] = a.Counters
	}
	writeJSON(w, http.StatusOK, map[string]any{"total": srv.Counters(), "accounts": per})
}

func (srv *Server) httpReset(w http.ResponseWriter, r *http.Request) {
	srv.Reset()
	w.WriteHeader(http.StatusNoContent)
}

func (srv *Server) httpBinds(w http.ResponseWriter, r *http.Request) {
	b := srv.Binds()
	if b == nil {
		b = []BindInfo{} // [] rather than null, so clients can range over it
	}
	writeJSON(w, http.StatusOK, b)
}

func (srv *Server) httpDisconnect(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil || !srv.Disconnect(id) {
		writeErr(w, http.StatusNotFound, errors.New("no bind with that id"))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (srv *Server) httpUnbind(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil || !srv.Unbind(id) {
		writeErr(w, http.StatusNotFound, errors.New("no bound bind with that id, or it is unbinding already"))
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]int{"unbinding": 1})
}

func (srv *Server) httpUnbindAll(w http.ResponseWriter, r *http.Request) {
	n, err := srv.UnbindAll(r.URL.Query().Get("system_id"))
	if err != nil {
		writeErr(w, http.StatusNotFound, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]int{"unbinding": n})
}

func (srv *Server) httpAccounts(w http.ResponseWriter, r *http.Request) {
	out := []Account{}
	for _, acc := range srv.allAccounts() {
		out = append(out, acc.cfg.Load().a)
	}
	writeJSON(w, http.StatusOK, out)
}

func (srv *Server) httpAccount(w http.ResponseWriter, r *http.Request) {
	a, err := srv.Account(r.PathValue("system_id"))
	if err != nil {
		writeErr(w, http.StatusNotFound, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

// putSetting serves PUT /api/accounts/{system_id}/<path>: 404 for an unknown account
// (checked before the body, so a typo in the id is not reported as a bad body), 400 for a
// body apply refuses, and otherwise the account as it is now, so the caller sees the
// defaults that were filled in.
func (srv *Server) putSetting(mux *http.ServeMux, path string, apply func(id string, body []byte) error) {
	mux.HandleFunc("PUT /api/accounts/{system_id}/"+path, func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("system_id")
		if _, err := srv.account(id); err != nil {
			writeErr(w, http.StatusNotFound, err)
			return
		}
		body, err := readBody(r)
		if err == nil {
			err = apply(id, body)
		}
		if err != nil {
			writeErr(w, http.StatusBadRequest, err)
			return
		}
		a, _ := srv.Account(id)
		writeJSON(w, http.StatusOK, a)
	})
}

// jsonSetting adapts a setter (Server.SetFaults and the like) to putSetting: the body is
// the setting's JSON form, the same one the scenario file's keys use.
func jsonSetting[T any](set func(id string, v T) error) func(id string, body []byte) error {
	return func(id string, body []byte) error {
		var v T
		if err := json.Unmarshal(body, &v); err != nil {
			return err
		}
		return set(id, v)
	}
}

func (srv *Server) httpMO(w http.ResponseWriter, r *http.Request) {
	var mo MO
	body, err := readBody(r)
	if err == nil {
		err = json.Unmarshal(body, &mo)
	}
	if err != nil {
		writeErr(w, http.StatusBadRequest, err)
		return
	}
	n, err := srv.InjectMO(mo)
	if errors.Is(err, ErrUnknownAccount) {
		writeErr(w, http.StatusNotFound, err)
		return
	}
	if err != nil {
		writeErr(w, http.StatusBadRequest, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]int{"parts": n})
}

// httpFloodStart starts a receipt storm. 409 when there is nothing to flood with: a flood
// replays receipts for messages already received, so the ESME must have submitted first.
func (srv *Server) httpFloodStart(w http.ResponseWriter, r *http.Request) {
	var o FloodOptions
	body, err := readBody(r)
	if err == nil {
		err = json.Unmarshal(body, &o)
	}
	if err != nil {
		writeErr(w, http.StatusBadRequest, err)
		return
	}
	f, err := srv.Flood(o)
	switch {
	case errors.Is(err, ErrUnknownAccount):
		writeErr(w, http.StatusNotFound, err)
	case errors.Is(err, ErrNoMessages):
		writeErr(w, http.StatusConflict, err)
	case err != nil:
		writeErr(w, http.StatusBadRequest, err)
	default:
		writeJSON(w, http.StatusAccepted, f.Status())
	}
}

func (srv *Server) httpFloods(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, srv.Floods())
}

func (srv *Server) httpFloodStop(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("system_id")
	if id != "" {
		if _, err := srv.account(id); err != nil {
			writeErr(w, http.StatusNotFound, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]int{"stopped": srv.StopFloods(id)})
}

func (srv *Server) httpMessages(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := Filter{SystemID: q.Get("system_id"), Dest: q.Get("dest"), Source: q.Get("source"), Limit: 100}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeErr(w, http.StatusBadRequest, errors.New("limit: want a non-negative integer (0: all)"))
			return
		}
		f.Limit = n
	}
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			writeErr(w, http.StatusBadRequest, errors.New("after: want a message seq"))
			return
		}
		f.After = n
	}
	msgs := srv.Messages(f)
	if msgs == nil {
		msgs = []Message{}
	}
	writeJSON(w, http.StatusOK, msgs)
}

func readBody(r *http.Request) ([]byte, error) {
	return io.ReadAll(io.LimitReader(r.Body, 1<<20))
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeErr(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, map[string]string{"error": err.Error()})
}
