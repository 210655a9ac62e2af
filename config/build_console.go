package config

import (
	"github.com/smppd/smppd/api/console"
)

// ConsoleEnabled says whether the operator console is configured (it has operators).
func (c *Config) ConsoleEnabled() bool { return len(c.Console.Operators) > 0 }

// ConsoleOptions returns the console section as console.Options; the caller adds what the
// console shows (search, carriers, webhooks, registry, accounts) and the log. Fields the
// file leaves out stay zero: the console's defaults.
func (c *Config) ConsoleOptions() console.Options {
	k := c.Console
	o := console.Options{SessionTTL: k.SessionTTL, SecureCookie: k.SecureCookie, MaxFailures: k.MaxFailures, Lockout: k.Lockout}
	for _, op := range k.Operators {
		o.Operators = append(o.Operators, console.Operator{Name: op.Name, PasswordHash: op.PasswordHash, Role: console.Role(op.Role)})
	}
	return o
}
