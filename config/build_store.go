package config

import (
	"encoding/base64"

	"github.com/smppd/smppd/dlt"
	"github.com/smppd/smppd/store/liveness"
	"github.com/smppd/smppd/store/redisstore"
)

// RedisStore returns the Redis URL and redisstore.Options of store.type redis. Fields the
// file leaves out stay zero: redisstore's defaults. The text keys are store.text_key and
// store.text_keys_old, or with no text_key one derived from otp.key (TextKeySource says
// which).
func (c *Config) RedisStore() (url string, o redisstore.Options) {
	o = redisstore.Options{Prefix: c.Store.Prefix, DeadRetention: c.Webhooks.DeadLetterTTL,
		NoSearchIndex: c.Store.SearchIndex != nil && !*c.Store.SearchIndex,
		NoTimeline:    c.Store.Timeline != nil && !*c.Store.Timeline}
	o.TextKey, o.TextKeysOld = c.textKeys()
	return c.Store.RedisURL, o
}

// TextKeySource says where the key that seals message texts at rest comes from:
// "store.text_key", "derived from otp.key", or "none" (no text_key and no otp.key: texts
// are stored in plaintext; there is no account to send any).
func (c *Config) TextKeySource() string {
	switch {
	case c.Store.TextKey != "":
		return "store.text_key"
	case c.OTP.Key != "":
		return "derived from otp.key"
	}
	return "none"
}

// textKeys decodes the text keys (validateTextKeys has checked them); with a text_key, the
// key derived from otp.key is the last old key.
func (c *Config) textKeys() (cur []byte, old [][]byte) {
	switch {
	case c.Store.TextKey != "":
		cur, _ = base64.StdEncoding.DecodeString(c.Store.TextKey)
	case c.OTP.Key != "":
		cur, _ = redisstore.DeriveTextKey([]byte(c.OTP.Key))
	}
	for _, k := range c.Store.TextKeysOld {
		b, _ := base64.StdEncoding.DecodeString(k)
		old = append(old, b)
	}
	if c.Store.TextKey != "" && c.OTP.Key != "" {
		// The key derived from otp.key opens too, so that moving from it to a text_key
		// needs no text_keys_old entry (whoever has otp.key can derive it anyway).
		d, _ := redisstore.DeriveTextKey([]byte(c.OTP.Key))
		old = append(old, d)
	}
	return cur, old
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
