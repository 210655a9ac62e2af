package config

import (
	"github.com/smppd/smppd/dlt"
	"github.com/smppd/smppd/store/liveness"
	"github.com/smppd/smppd/store/redisstore"
)

// RedisStore returns the Redis URL and redisstore.Options of store.type redis. Fields the
// file leaves out stay zero: redisstore's defaults.
func (c *Config) RedisStore() (url string, o redisstore.Options) {
	return c.Store.RedisURL, redisstore.Options{Prefix: c.Store.Prefix,
		NoSearchIndex: c.Store.SearchIndex != nil && !*c.Store.SearchIndex,
		NoTimeline:    c.Store.Timeline != nil && !*c.Store.Timeline}
}

// LivenessOptions returns the instance's name (InstanceName) and heartbeat_ttl as
// liveness.Options; the caller adds the logger.
func (c *Config) LivenessOptions() liveness.Options {
	return liveness.Options{Instance: c.InstanceName(), TTL: c.HeartbeatTTL}
}

// DLTOptions returns the DLT registry files as dlt.EngineOptions, resolved against the
// file's directory; the caller adds the store and the logger.
func (c *Config) DLTOptions() dlt.EngineOptions {
	return dlt.EngineOptions{File: c.DLTRegistryFile(), CSV: c.DLTTemplateCSVs()}
}
