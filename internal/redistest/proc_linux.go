package redistest

import (
	"os/exec"
	"syscall"
)

// setParentDeath has the kernel kill the server when the test binary dies without running
// its cleanups (a -timeout panic, a kill), so no server outlives its test.
func setParentDeath(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
