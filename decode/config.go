package decode

import (
	"bytes"
	"strconv"

	"github.com/zkgo/zkgo/wire"
)

// configPath is the znode that holds the quorum configuration.
const configPath = "/zookeeper/config"

// configVersion returns the version of a quorum configuration text
// (QuorumVerifier.toString: server lines, then "version=<hex>" as the last
// line), or false when text has no such line. Election notifications,
// NEWLEADER, reconfig txns and replies, and getData of /zookeeper/config
// carry one.
func configVersion(text []byte) (int64, bool) {
	i := bytes.LastIndex(text, []byte("version="))
	if i < 0 || (i > 0 && text[i-1] != '\n') {
		return 0, false
	}
	line := text[i+len("version="):]
	if j := bytes.IndexAny(line, "\r\n"); j >= 0 {
		line = line[:j]
	}
	if len(line) == 0 || len(line) > 16 {
		return 0, false
	}
	v, err := strconv.ParseUint(string(line), 16, 64)
	if err != nil {
		return 0, false
	}
	return int64(v), true
}

// setConfig records the configuration version text carries on m.
func (m *Message) setConfig(text []byte) {
	if v, ok := configVersion(text); ok {
		m.ConfigVersion, m.HasConfigVersion = v, true
	}
}

// txnConfig sets m's configuration version from a reconfig txn: a
// SetDataTxn of /zookeeper/config whose data is the new configuration.
func (m *Message) txnConfig(op wire.OpCode, body any) {
	if sd, ok := body.(*wire.SetDataTxn); ok && (op == wire.OpReconfig || sd.Path == configPath) {
		m.setConfig(sd.Data)
	}
}
