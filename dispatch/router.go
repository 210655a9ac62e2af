package dispatch

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// ErrNoRoute means no route covers a destination.
var ErrNoRoute = errors.New("dispatch: no route for destination")

// router picks carriers for destinations by the longest matching number prefix.
type router struct {
	routes []Route // sorted longest prefix first
}

func newRouter(routes []Route, carriers []CarrierOptions) *router {
	rs := append([]Route(nil), routes...)
	if len(rs) == 0 {
		// No routes configured: every destination goes to the carriers in their order.
		var all []string
		for _, c := range carriers {
			all = append(all, c.Name)
		}
		rs = []Route{{Prefix: "", Carriers: all}}
	}
	sort.SliceStable(rs, func(i, j int) bool { return len(rs[i].Prefix) > len(rs[j].Prefix) })
	return &router{routes: rs}
}

// carriers returns the carriers for dest in preference order.
func (r *router) carriers(dest string) ([]string, error) {
	for _, rt := range r.routes {
		if strings.HasPrefix(dest, rt.Prefix) {
			return rt.Carriers, nil
		}
	}
	return nil, fmt.Errorf("%w %s", ErrNoRoute, dest)
}

// next returns the carrier after `from` in dest's route that up() accepts, or "" if none.
func (r *router) next(dest, from string, up func(string) bool) string {
	cs, err := r.carriers(dest)
	if err != nil {
		return ""
	}
	start := 0
	for i, c := range cs {
		if c == from {
			start = i + 1
			break
		}
	}
	for k := 0; k < len(cs)-1; k++ {
		c := cs[(start+k)%len(cs)]
		if c != from && up(c) {
			return c
		}
	}
	return ""
}
