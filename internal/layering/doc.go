// Package layering holds no code: its test checks the import graph against the package map
// in the README, so that a dependency pointing the wrong way (a library importing config, the
// protocol package importing the simulator, `testing` linked into the daemon) fails CI the
// day it is written instead of being found by the next review.
package layering
