//go:build tools

// Package tools pins modules that later packages and tests use, so go mod tidy keeps them.
package tools

import (
	_ "github.com/fiorix/go-smpp/smpp"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/redis/go-redis/v9"
	_ "github.com/rs/zerolog"
	_ "golang.org/x/time/rate"
	_ "gopkg.in/yaml.v3"
)
