package dlt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// RegistryStore keeps the registry where every smppd instance reads the same one (Redis in
// production). The document is the registry's ExportYAML form; the version grows by one on
// every save, so instances notice a change by polling a number.
type RegistryStore interface {
	// LoadRegistry returns the stored document and its version (0 and nil when none).
	LoadRegistry(ctx context.Context) (doc []byte, version int64, err error)
	// RegistryVersion returns the stored version (0 when none).
	RegistryVersion(ctx context.Context) (int64, error)
	// SaveRegistry stores doc as the next version and returns that version.
	SaveRegistry(ctx context.Context, doc []byte) (int64, error)
}

// CSVFile is a template export from a DLT portal and the entity its templates belong to.
type CSVFile struct {
	Path   string
	Entity string
}

// EngineOptions configure an Engine.
type EngineOptions struct {
	// Store shares the registry between instances. Nil: the registry comes from the files
	// and lives in this process only.
	Store RegistryStore
	// File is a registry in YAML (see LoadYAML); CSV are portal template exports added to it.
	File string
	CSV  []CSVFile
	// Poll is how often the store's version is checked. Default: 5 seconds.
	Poll time.Duration
	// Logger receives reloads and failures; the zero Logger discards them.
	Logger zerolog.Logger
}

// Engine holds the current registry and keeps it in step with the store: a registry imported
// on any instance reaches every instance within one Poll, without a restart.
type Engine struct {
	o       EngineOptions
	reg     atomic.Pointer[Registry]
	version atomic.Int64
}

// NewEngine loads the registry: from the store when it holds one, else from the files (and
// then saves it to the store, so the first instance seeds the others).
func NewEngine(ctx context.Context, o EngineOptions) (*Engine, error) {
	if o.Poll <= 0 {
		o.Poll = 5 * time.Second
	}
	e := &Engine{o: o}
	if o.Store != nil {
		doc, v, err := o.Store.LoadRegistry(ctx)
		if err != nil {
			return nil, fmt.Errorf("dlt: load registry from the store: %w", err)
		}
		if v > 0 {
			reg, err := LoadYAML(bytes.NewReader(doc))
			if err != nil {
				return nil, fmt.Errorf("dlt: the registry in the store (version %d) does not load: %w", v, err)
			}
			e.swap(reg, v)
			return e, nil
		}
	}
	reg, err := e.loadFiles()
	if err != nil {
		return nil, err
	}
	if o.Store != nil && (o.File != "" || len(o.CSV) > 0) {
		return e, e.publish(ctx, reg)
	}
	e.swap(reg, 0)
	return e, nil
}

// Import loads the files and publishes them to the store as the registry of every instance,
// once. It is what `smppd -dlt-import` runs.
func Import(ctx context.Context, o EngineOptions) (*Engine, error) {
	if o.Store == nil {
		return nil, errors.New("dlt: import needs a shared store (store.type redis); an in-memory store reads the files at start")
	}
	e := &Engine{o: o}
	reg, err := e.loadFiles()
	if err != nil {
		return nil, err
	}
	return e, e.publish(ctx, reg)
}

// Registry returns the current registry. Callers take it per use, never keep it: a reload
// replaces it.
func (e *Engine) Registry() *Registry { return e.reg.Load() }

// Version returns the store version of the current registry (0 when not from a store).
func (e *Engine) Version() int64 { return e.version.Load() }

func (e *Engine) swap(reg *Registry, v int64) {
	e.reg.Store(reg)
	e.version.Store(v)
	e.o.Logger.Info().Int64("version", v).Int("entities", len(reg.Entities())).Msg("DLT registry loaded")
}

func (e *Engine) loadFiles() (*Registry, error) {
	reg := NewRegistry()
	if e.o.File != "" {
		var err error
		if reg, err = LoadYAMLFile(e.o.File); err != nil {
			return nil, err
		}
	}
	for _, c := range e.o.CSV {
		f, err := os.Open(c.Path)
		if err != nil {
			return nil, fmt.Errorf("dlt: %w", err)
		}
		n, err := reg.LoadTemplatesCSV(f, c.Entity)
		f.Close()
		if err != nil && n == 0 {
			return nil, fmt.Errorf("%s: %w", c.Path, err)
		}
		if err != nil {
			e.o.Logger.Warn().Err(err).Str("file", c.Path).Int("loaded", n).Msg("some template rows were skipped")
		}
	}
	return reg, nil
}

func (e *Engine) publish(ctx context.Context, reg *Registry) error {
	doc, err := reg.ExportYAML()
	if err != nil {
		return fmt.Errorf("dlt: export registry: %w", err)
	}
	v, err := e.o.Store.SaveRegistry(ctx, doc)
	if err != nil {
		return fmt.Errorf("dlt: save registry to the store: %w", err)
	}
	e.swap(reg, v)
	return nil
}

// ImportFiles reads the files again and makes them the registry of every instance (this one
// at once, the others at their next poll). Bad files change nothing.
func (e *Engine) ImportFiles(ctx context.Context) error {
	reg, err := e.loadFiles()
	if err != nil {
		return err
	}
	if e.o.Store == nil {
		e.swap(reg, 0)
		return nil
	}
	return e.publish(ctx, reg)
}

// Run follows the store until ctx ends, reloading when the version changes. A document that
// does not load is logged and skipped: the previous registry stays in force.
func (e *Engine) Run(ctx context.Context) {
	if e.o.Store == nil {
		return
	}
	t := time.NewTicker(e.o.Poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := e.refresh(ctx); err != nil && !errors.Is(err, context.Canceled) {
			e.o.Logger.Error().Err(err).Msg("DLT registry refresh failed; keeping the current one")
		}
	}
}

func (e *Engine) refresh(ctx context.Context) error {
	v, err := e.o.Store.RegistryVersion(ctx)
	if err != nil || v == e.version.Load() {
		return err
	}
	doc, v, err := e.o.Store.LoadRegistry(ctx)
	if err != nil {
		return err
	}
	reg, err := LoadYAML(bytes.NewReader(doc))
	if err != nil {
		e.version.Store(v) // do not retry the same broken version every poll
		return fmt.Errorf("version %d does not load: %w", v, err)
	}
	e.swap(reg, v)
	return nil
}

// ChainFor returns the telemarketer ids after the PE (TM-AF ids, then the TM-D) of the
// entity's first registered chain, or nil.
func (e *Engine) ChainFor(peID string) []string {
	chains := e.Registry().Chains(peID)
	if len(chains) == 0 {
		return nil
	}
	c := chains[0]
	return append(append([]string{}, c.TMAF...), c.TMD)
}

// ImportCSV adds a portal template export (see LoadTemplatesCSV) for entity to a copy of the
// current registry and makes that the registry of every instance, as ImportFiles does with
// the configured files: the operator console's upload. Rows that do not load are reported
// (each by line) and skipped, as `smppd -dlt-import` skips them in the configured files; when
// no row loads, nothing changes. It returns how many templates were added.
func (e *Engine) ImportCSV(ctx context.Context, rd io.Reader, entity string) (int, error) {
	if _, ok := e.Registry().Entity(entity); !ok {
		return 0, fmt.Errorf("dlt: entity %q is not registered: add it to the registry file first", entity)
	}
	doc, err := e.Registry().ExportYAML()
	if err != nil {
		return 0, fmt.Errorf("dlt: export registry: %w", err)
	}
	reg, err := LoadYAML(bytes.NewReader(doc))
	if err != nil {
		return 0, fmt.Errorf("dlt: copy registry: %w", err)
	}
	n, rowErr := reg.LoadTemplatesCSV(rd, entity)
	if n == 0 {
		if rowErr == nil {
			rowErr = errors.New("dlt: templates CSV: no template in the file")
		}
		return 0, rowErr
	}
	if e.o.Store == nil {
		e.swap(reg, 0)
	} else if err := e.publish(ctx, reg); err != nil {
		return 0, err
	}
	return n, rowErr
}
