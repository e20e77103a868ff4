package outcome

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/platemask/platemask/codec"
	"github.com/platemask/platemask/redact"
)

func TestOf(t *testing.T) {
	tests := []struct {
		err    error
		status int
		action Action
	}{
		{fmt.Errorf("decode: %w", codec.ErrNotJPEG), http.StatusUnsupportedMediaType, Dead},
		{fmt.Errorf("%w: 9 bytes", codec.ErrTooLarge), http.StatusRequestEntityTooLarge, Dead},
		{codec.ErrCorrupt, http.StatusUnprocessableEntity, Dead},
		{redact.ErrNoPlate, http.StatusAccepted, Quarantine},
		{ErrUnauthorized, http.StatusUnauthorized, Dead},
		{ErrBusy, http.StatusTooManyRequests, Retry},
		{fmt.Errorf("x: %w", context.Canceled), http.StatusServiceUnavailable, Retry},
		{errors.New("disk full"), http.StatusServiceUnavailable, Retry},
	}
	for _, tt := range tests {
		k := Of(tt.err)
		if k.Status != tt.status || k.Action != tt.action || k.Reason == "" {
			t.Errorf("Of(%v) = %d %s %q, want %d %s", tt.err, k.Status, k.Action, k.Reason, tt.status, tt.action)
		}
	}
}
