package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
)

// logLevelUsage documents --log-level for every command that takes it.
const logLevelUsage = "log level: debug, info, warn, error; per component after a comma, " +
	"e.g. info,election=debug,frontend=warn (components: server, election, frontend, proxy, admin, metrics)"

// newLogger builds the process logger on stderr: human-readable on a
// terminal, JSON lines otherwise, at the levels spec names (see
// parseLogLevels).
func newLogger(spec string) (zerolog.Logger, error) {
	return newLoggerTo(os.Stderr, isatty.IsTerminal(os.Stderr.Fd()), spec)
}

func newLoggerTo(out io.Writer, console bool, spec string) (zerolog.Logger, error) {
	lv, err := parseLogLevels(spec)
	if err != nil {
		return zerolog.Logger{}, err
	}
	zerolog.TimeFieldFormat = time.RFC3339Nano
	if console {
		out = zerolog.ConsoleWriter{Out: out, TimeFormat: "15:04:05.000"}
	}
	var w zerolog.LevelWriter = zerolog.LevelWriterAdapter{Writer: out}
	if len(lv.byComponent) > 0 {
		w = componentFilter{w: w, lv: lv}
	}
	return zerolog.New(w).Level(lv.min()).With().Timestamp().Logger(), nil
}

// logLevels is a default level and levels for named components (the
// "component" key the packages add to their loggers).
type logLevels struct {
	def         zerolog.Level
	byComponent map[string]zerolog.Level
}

// parseLogLevels reads "LEVEL[,COMPONENT=LEVEL...]"; either part may be
// left out ("election=debug" keeps info for the rest).
func parseLogLevels(spec string) (logLevels, error) {
	lv := logLevels{def: zerolog.InfoLevel}
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		comp, level, named := strings.Cut(part, "=")
		if !named {
			level = comp
		}
		l, err := zerolog.ParseLevel(strings.TrimSpace(level))
		if err != nil || level == "" {
			return logLevels{}, fmt.Errorf("log level %q: want debug, info, warn or error", level)
		}
		if !named {
			lv.def = l
			continue
		}
		if lv.byComponent == nil {
			lv.byComponent = map[string]zerolog.Level{}
		}
		lv.byComponent[strings.TrimSpace(comp)] = l
	}
	return lv, nil
}

// min is the level the logger itself filters at: the lowest of all.
func (lv logLevels) min() zerolog.Level {
	m := lv.def
	for _, l := range lv.byComponent {
		if l < m {
			m = l
		}
	}
	return m
}

// componentFilter drops lines below their component's level. It reads the
// component from the JSON line before any console formatting: inside a
// JSON string a quote is escaped, so `"component":"` only matches a key.
type componentFilter struct {
	w  zerolog.LevelWriter
	lv logLevels
}

var componentKey = []byte(`"component":"`)

func (f componentFilter) Write(p []byte) (int, error) { return f.w.Write(p) }

func (f componentFilter) WriteLevel(l zerolog.Level, p []byte) (int, error) {
	want := f.lv.def
	if i := bytes.Index(p, componentKey); i >= 0 {
		rest := p[i+len(componentKey):]
		if j := bytes.IndexByte(rest, '"'); j >= 0 {
			if cl, ok := f.lv.byComponent[string(rest[:j])]; ok {
				want = cl
			}
		}
	}
	if l < want && l != zerolog.NoLevel {
		return len(p), nil
	}
	return f.w.WriteLevel(l, p)
}
