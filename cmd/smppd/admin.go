package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// adminRoutes mounts the operator's endpoints for what the receipt pipeline could not
// finish: dead-letter webhooks (list, replay) and unmatched receipts (list). They show phone
// numbers and payloads and take no key, so they exist only on the internal listener
// (http.metrics_listen), never on the API's.
func (d *daemon) adminRoutes(mux *http.ServeMux) {
	if d.front != nil {
		// The SMPP front's client binds: GET /admin/smpp/binds, /admin/smpp/stats, POST
		// /admin/smpp/kick?id=|account=.
		mux.Handle("/admin/smpp/", http.StripPrefix("/admin/smpp", d.front.AdminHandler()))
	}
	mux.HandleFunc("GET /admin/webhooks/dead", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		jobs, err := d.sender.DeadLetters(ctx, limit(r))
		writeAdmin(w, jobs, err)
	})
	mux.HandleFunc("POST /admin/webhooks/replay", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		n, err := d.sender.Replay(ctx, r.Form["id"]...) // no id: every dead letter
		writeAdmin(w, map[string]int{"replayed": n}, err)
	})
	mux.HandleFunc("GET /admin/receipts/unmatched", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		recs, err := d.corr.Unmatched(ctx, limit(r))
		writeAdmin(w, recs, err)
	})
}

func limit(r *http.Request) int {
	if n, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && n > 0 && n <= 10000 {
		return n
	}
	return 100
}

func writeAdmin(w http.ResponseWriter, v any, err error) {
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
		return
	}
	_ = json.NewEncoder(w).Encode(v)
}
