package redisstore_test

import (
	"context"
	"testing"

	"github.com/smppd/smppd/dlt"
	"github.com/smppd/smppd/store/redisstore"
)

var _ dlt.RegistryStore = (*redisstore.Store)(nil)

func TestRegistryStore(t *testing.T) {
	c := newClient(t)
	prefix := uniquePrefix()
	deleteKeys(t, c, prefix)
	s := newStore(t, c, prefix)
	ctx := context.Background()
	if doc, v, err := s.LoadRegistry(ctx); err != nil || v != 0 || doc != nil {
		t.Fatalf("empty: %q %d %v", doc, v, err)
	}
	for i, doc := range []string{"entities: []\n", "headers: []\n"} {
		v, err := s.SaveRegistry(ctx, []byte(doc))
		if err != nil || v != int64(i+1) {
			t.Fatalf("save %d: %d %v", i, v, err)
		}
	}
	doc, v, err := s.LoadRegistry(ctx)
	if err != nil || v != 2 || string(doc) != "headers: []\n" {
		t.Fatalf("load: %q %d %v", doc, v, err)
	}
	if v, err := s.RegistryVersion(ctx); err != nil || v != 2 {
		t.Fatalf("version %d %v", v, err)
	}
}
