package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/zkgo/zkgo/internal/testutil"
)

func TestLogLevelsPerComponent(t *testing.T) {
	var buf bytes.Buffer
	log, err := newLoggerTo(&buf, false, "warn,election=debug,frontend=error")
	if err != nil {
		t.Fatal(err)
	}
	elec := log.With().Str("component", "election").Logger()
	fe := log.With().Str("component", "frontend").Logger()
	srv := log.With().Str("component", "server").Logger()
	elec.Debug().Msg("e-debug")
	fe.Warn().Msg("f-warn")
	fe.Error().Msg("f-error")
	srv.Info().Msg("s-info")
	srv.Warn().Str("note", `"component":"election"`).Msg("s-warn")
	log.Info().Msg("root-info")
	log.Warn().Msg("root-warn")
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if err := testutil.StrictJSON([]byte(line)); err != nil {
			t.Errorf("%s: %v", line, err)
		}
		for _, m := range []string{"e-debug", "f-warn", "f-error", "s-info", "s-warn", "root-info", "root-warn"} {
			if strings.Contains(line, `"message":"`+m+`"`) {
				got = append(got, m)
			}
		}
	}
	want := []string{"e-debug", "f-error", "s-warn", "root-warn"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("logged %v, want %v\n%s", got, want, buf.String())
	}
}

func TestLogLevelsParse(t *testing.T) {
	for _, bad := range []string{"loud", "info,election=", "election=chatty"} {
		if _, err := parseLogLevels(bad); err == nil {
			t.Errorf("parseLogLevels(%q) accepted", bad)
		}
	}
	lv, err := parseLogLevels("election=debug")
	if err != nil || lv.def.String() != "info" || lv.min().String() != "debug" {
		t.Errorf("parseLogLevels(election=debug) = %+v, %v", lv, err)
	}
}

func TestLogConsoleOnTerminal(t *testing.T) {
	var buf bytes.Buffer
	log, err := newLoggerTo(&buf, true, "info")
	if err != nil {
		t.Fatal(err)
	}
	log.Info().Str("component", "server").Msg("hello")
	if out := buf.String(); strings.HasPrefix(out, "{") || !strings.Contains(out, "hello") || !strings.Contains(out, "component=") {
		t.Errorf("console output %q", out)
	}
}
