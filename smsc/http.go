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

func (srv *Server) newHTTPHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "smpp_addr": srv.Addr()})
	})
	mux.HandleFunc("GET /api/messages", srv.httpMessages)
	mux.HandleFunc("GET /api/messages/{id}", func(w http.ResponseWriter, r *http.Request) {
		m, ok := srv.Message(r.PathValue("id"))
		if !ok {
			writeErr(w, http.StatusNotFound, errors.New("no stored message with that id"))
			return
		}
		writeJSON(w, http.StatusOK, m)
	})
	mux.HandleFunc("GET /api/binds", func(w http.ResponseWriter, r *http.Request) {
		b := srv.Binds()
		if b == nil {
			b = []BindInfo{}
		}
		writeJSON(w, http.StatusOK, b)
	})
	mux.HandleFunc("DELETE /api/binds/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
		if err != nil || !srv.Disconnect(id) {
			writeErr(w, http.StatusNotFound, errors.New("no bind with that id"))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /api/binds/{id}/unbind", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
		if err != nil || !srv.Unbind(id) {
			writeErr(w, http.StatusNotFound, errors.New("no bound bind with that id, or it is unbinding already"))
			return
		}
		writeJSON(w, http.StatusAccepted, map[string]int{"unbinding": 1})
	})
	mux.HandleFunc("POST /api/binds/unbind", func(w http.ResponseWriter, r *http.Request) {
		n, err := srv.UnbindAll(r.URL.Query().Get("system_id"))
		if err != nil {
			writeErr(w, http.StatusNotFound, err)
			return
		}
		writeJSON(w, http.StatusAccepted, map[string]int{"unbinding": n})
	})
	mux.HandleFunc("GET /api/counters", func(w http.ResponseWriter, r *http.Request) {
		per := map[string]Counters{}
		for _, acc := range srv.allAccounts() {
			var c Counters
			acc.addCounters(&c)
			per[acc.id] = c
		}
		writeJSON(w, http.StatusOK, map[string]any{"total": srv.Counters(), "accounts": per})
	})
	mux.HandleFunc("POST /api/reset", func(w http.ResponseWriter, r *http.Request) {
		srv.Reset()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /api/accounts", func(w http.ResponseWriter, r *http.Request) {
		out := []Account{}
		for _, acc := range srv.allAccounts() {
			out = append(out, acc.cfg.Load().a)
		}
		writeJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("GET /api/accounts/{system_id}", func(w http.ResponseWriter, r *http.Request) {
		a, err := srv.Account(r.PathValue("system_id"))
		if err != nil {
			writeErr(w, http.StatusNotFound, err)
			return
		}
		writeJSON(w, http.StatusOK, a)
	})
	put := func(path string, apply func(id string, body []byte) error) {
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
	put("outcomes", func(id string, b []byte) error {
		var v Receipts
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		return srv.SetOutcomes(id, v)
	})
	put("latency", func(id string, b []byte) error {
		var v Latency
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		return srv.SetLatency(id, v)
	})
	put("throttle", func(id string, b []byte) error {
		var v Throttle
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		return srv.SetThrottle(id, v)
	})
	put("faults", func(id string, b []byte) error {
		var v Faults
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		return srv.SetFaults(id, v)
	})
	put("dlt", func(id string, b []byte) error {
		var v DLT
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		return srv.SetDLT(id, v)
	})
	put("binds/refuse", func(id string, b []byte) error {
		var v struct {
			Status string `json:"status"`
		}
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		return srv.RefuseBinds(id, v.Status)
	})
	put("binds/max", func(id string, b []byte) error {
		var v struct {
			MaxBinds int `json:"max_binds"`
		}
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		return srv.SetMaxBinds(id, v.MaxBinds)
	})
	mux.HandleFunc("POST /api/mo", func(w http.ResponseWriter, r *http.Request) {
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
	})
	mux.HandleFunc("POST /api/flood", func(w http.ResponseWriter, r *http.Request) {
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
	})
	mux.HandleFunc("GET /api/flood", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, srv.Floods())
	})
	mux.HandleFunc("DELETE /api/flood", func(w http.ResponseWriter, r *http.Request) {
		id := r.URL.Query().Get("system_id")
		if id != "" {
			if _, err := srv.account(id); err != nil {
				writeErr(w, http.StatusNotFound, err)
				return
			}
		}
		writeJSON(w, http.StatusOK, map[string]int{"stopped": srv.StopFloods(id)})
	})
	return mux
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
