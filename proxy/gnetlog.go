package proxy

import (
	"fmt"

	"github.com/panjf2000/gnet/v2/pkg/logging"
	"github.com/rs/zerolog"
)

// gnetLogger adapts zerolog to gnet's logging.Logger. gnet logs rarely
// (startup, shutdown, internal errors), so Msgf is acceptable here.
type gnetLogger struct{ l zerolog.Logger }

var _ logging.Logger = gnetLogger{}

func (g gnetLogger) Debugf(format string, args ...any) { g.l.Debug().Msgf(format, args...) }
func (g gnetLogger) Infof(format string, args ...any)  { g.l.Info().Msgf(format, args...) }
func (g gnetLogger) Warnf(format string, args ...any)  { g.l.Warn().Msgf(format, args...) }
func (g gnetLogger) Errorf(format string, args ...any) { g.l.Error().Msgf(format, args...) }

// Fatalf logs at error level: a library must not exit the process.
func (g gnetLogger) Fatalf(format string, args ...any) {
	g.l.Error().Str("gnet", "fatal").Msg(fmt.Sprintf(format, args...))
}
