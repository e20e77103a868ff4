package cameras_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/platemask/platemask/command"
	"github.com/platemask/platemask/command/cmdutil"
)

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := command.Execute(&cmdutil.IOStreams{Out: &out, ErrOut: &errOut}, args)
	return code, out.String(), errOut.String()
}

func TestCameras(t *testing.T) {
	data := t.TempDir()
	code, tok, _ := run(t, "cameras", "--data", data, "add", "gate-1", "--site", "north", "--mask", "0,0,640,40")
	if code != 0 || !strings.HasPrefix(tok, "pmc_") {
		t.Fatalf("add: exit %d, %q", code, tok)
	}
	if code, _, _ := run(t, "cameras", "--data", data, "add", "gate-1"); code != cmdutil.ExitFailed {
		t.Errorf("second add: exit %d", code)
	}
	if code, _, _ := run(t, "cameras", "--data", data, "add", "gate-2", "--mask", "1,2"); code != cmdutil.ExitUsage {
		t.Errorf("bad mask: exit %d", code)
	}
	if code, _, _ := run(t, "cameras", "--data", data, "set", "gate-1", "--pattern", `^(?P<time>\d{14})$`); code != 0 {
		t.Errorf("set: exit %d", code)
	}
	if code, _, _ := run(t, "cameras", "--data", data, "set", "gate-1", "--network", "fences"); code != 0 {
		t.Errorf("set --network: exit %d", code)
	}
	if code, _, _ := run(t, "cameras", "--data", data, "set", "gate-1", "--network", "fastest"); code != cmdutil.ExitUsage {
		t.Errorf("set --network fastest: exit %d", code)
	}
	code, out, _ := run(t, "cameras", "--data", data, "ls", "--json")
	var list []struct {
		ID, Site, Pattern, Network, Token string
		Masks                             []any
	}
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list) != 1 || list[0].Site != "north" ||
		len(list[0].Masks) != 1 || list[0].Pattern == "" || list[0].Network != "fences" || list[0].Token != "" {
		t.Fatalf("ls: exit %d, %s", code, out)
	}
	if strings.Contains(out, strings.TrimSpace(tok)) {
		t.Error("ls shows the token")
	}
	if code, _, _ := run(t, "cameras", "--data", data, "rm", "gate-1"); code != 0 {
		t.Errorf("rm: exit %d", code)
	}
	if code, _, _ := run(t, "cameras", "--data", data, "rm", "gate-1"); code != cmdutil.ExitFailed {
		t.Errorf("second rm: exit %d", code)
	}
}
