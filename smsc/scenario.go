package smsc

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"
)

// LoadScenario reads a scenario file: YAML whose keys are those of Options (see the yaml
// tags, and testdata/smscsim/scenario.yaml for every knob). Unknown keys are errors, so a
// typo never silently does nothing. A relative dlt_registry is taken relative to the file.
func LoadScenario(path string) (Options, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Options{}, fmt.Errorf("smsc: scenario: %w", err)
	}
	opts, err := ParseScenario(data)
	if err != nil {
		return Options{}, fmt.Errorf("smsc: scenario %s: %w", path, err)
	}
	if opts.DLTRegistryFile != "" && !filepath.IsAbs(opts.DLTRegistryFile) {
		opts.DLTRegistryFile = filepath.Join(filepath.Dir(path), opts.DLTRegistryFile)
	}
	return opts, nil
}

// ParseScenario decodes scenario YAML and validates it (after defaults, on a copy; the
// returned Options keep unset fields zero so flags can still override them).
func ParseScenario(data []byte) (Options, error) {
	var opts Options
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&opts); err != nil {
		return Options{}, err
	}
	check := opts
	check.setDefaults()
	if err := check.validate(); err != nil {
		return Options{}, err
	}
	return opts, nil
}
