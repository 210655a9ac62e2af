package smppfront

import (
	"encoding/json"
	"net/http"
)

// AdminHandler serves the admin endpoints, for the internal listener only (they list
// client addresses and drop binds):
//
//	GET  /binds                 the bound sessions (BindInfo, JSON array)
//	GET  /stats                 the per-account counters (Stats, JSON)
//	POST /kick?id=<bind id>     unbind one bind
//	POST /kick?account=<name>   unbind every bind of an account
//
// Paths are relative: mount it with http.StripPrefix (e.g. under /admin/smpp).
func (f *Front) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /binds", func(w http.ResponseWriter, r *http.Request) {
		binds := f.Binds()
		if binds == nil {
			binds = []BindInfo{}
		}
		writeJSON(w, http.StatusOK, binds)
	})
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, f.Stats())
	})
	mux.HandleFunc("POST /kick", func(w http.ResponseWriter, r *http.Request) {
		target := r.FormValue("id")
		if target == "" {
			target = r.FormValue("account")
		}
		if target == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "give id or account"})
			return
		}
		n := f.Kick(target)
		code := http.StatusOK
		if n == 0 {
			code = http.StatusNotFound
		}
		writeJSON(w, code, map[string]int{"kicked": n})
	})
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
