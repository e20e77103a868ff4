// Package cmdutil holds what every platemask command shares: I/O streams,
// exit codes and JSON output.
package cmdutil

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// IOStreams are a command's standard streams, injected so tests can
// capture them. Data goes to Out, messages to ErrOut.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
	// ErrTTY reports a terminal on ErrOut, for live progress.
	ErrTTY bool
	OutTTY bool
	// InTTY reports a terminal on In: only then may a command ask.
	InTTY bool
}

// System returns the process's streams.
func System() *IOStreams {
	return &IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr,
		OutTTY: isTerminal(os.Stdout), ErrTTY: isTerminal(os.Stderr), InTTY: isTerminal(os.Stdin)}
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Exit codes, the same for every command.
const (
	ExitOK      = 0
	ExitFailed  = 1 // the command ran, and something in it failed
	ExitUsage   = 2 // bad flags or arguments
	ExitFailure = 3 // the command could not run (missing keys, broker down)
)

// ExitError carries an exit code up to main.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// UsageError wraps err as a usage error (exit 2).
func UsageError(format string, a ...any) error {
	return &ExitError{Code: ExitUsage, Err: fmt.Errorf(format, a...)}
}

// Failed is returned when a run finished but some items failed (exit 1);
// the details were already reported.
var Failed = &ExitError{Code: ExitFailed}

// ExitCode maps an error from a command to the process exit code.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return ExitFailure
}

// WriteJSON writes v as indented JSON, for --json.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
