package node

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/zkgo/zkgo/node/quorum"
)

// The configuration files a quorum member with reconfigEnabled=true keeps
// next to its zoo.cfg, written as Java 3.8 writes them (the texts come
// from node/quorum). These run on an I/O goroutine, never on the owner
// goroutine or a gnet loop: each write is fsynced.
//
// The reconfig protocol (reconfig.go) calls these where Java's QuorumPeer
// does.

// writeAtomic writes data as AtomicFileWritingIdiom does: to path.tmp,
// fsync, rename over path, then fsync the directory.
func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("config: write %s: %w", tmp, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if err = errors.Join(err, f.Close()); err != nil {
		return errors.Join(fmt.Errorf("config: write %s: %w", tmp, err), os.Remove(tmp))
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("config: rename %s: %w", tmp, err)
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("config: sync dir of %s: %w", path, err)
	}
	if err = errors.Join(d.Sync(), d.Close()); err != nil {
		return fmt.Errorf("config: sync dir of %s: %w", path, err)
	}
	return nil
}

// WriteActivatedConfig writes what a Java 3.8 member writes when it
// activates a configuration (QuorumPeer.setQuorumVerifier with
// writeToDisk): the dynamic file cfgPath.dynamic.<version> holding the
// server lines of text (QuorumVerifier.toString), then zoo.cfg rewritten
// without its servers and pointing at that file (editStaticConfig; the
// client port keys are dropped when this member's entry has its own client
// address). When the configuration is the last seen one, the .next file
// goes (lastSeen). cfgPath "" (no zoo.cfg, as Java's tests) writes
// nothing.
func WriteActivatedConfig(cfgPath string, myID int64, text string, lastSeen bool) error {
	if cfgPath == "" {
		return nil
	}
	cfg, err := quorum.ParseConfigText(text, false)
	if err != nil {
		return fmt.Errorf("config: activated configuration: %w", err)
	}
	dyn := quorum.DynamicFileName(cfgPath, cfg.Version)
	if err := writeAtomic(dyn, []byte(quorum.DynamicFileText(text, false))); err != nil {
		return err
	}
	static, err := os.ReadFile(cfgPath)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	abs, err := filepath.Abs(dyn)
	if err == nil {
		abs, err = filepath.EvalSymlinks(abs)
	}
	if err != nil {
		return fmt.Errorf("config: canonical path of %s: %w", dyn, err)
	}
	me, ok := cfg.Servers[myID]
	if err := writeAtomic(cfgPath, []byte(quorum.StaticFileText(string(static), abs, ok && me.HasClient))); err != nil {
		return err
	}
	if lastSeen {
		if err := os.Remove(cfgPath + quorum.NextDynamicFileSuffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("config: %w", err)
		}
	}
	return nil
}

// WriteNextConfig writes the last proposed configuration to
// cfgPath.dynamic.next, version line kept (QuorumPeer.
// setLastSeenQuorumVerifier with writeToDisk).
func WriteNextConfig(cfgPath, text string) error {
	if cfgPath == "" {
		return nil
	}
	return writeAtomic(cfgPath+quorum.NextDynamicFileSuffix, []byte(quorum.DynamicFileText(text, true)))
}

// BackupStaticConfig copies zoo.cfg to zoo.cfg.bak, as a Java 3.8 quorum
// member with reconfigEnabled=true does at every start while its servers
// are still in zoo.cfg (QuorumPeerConfig.backupOldConfig).
func BackupStaticConfig(cfgPath string) error {
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return writeAtomic(cfgPath+quorum.BackupFileSuffix, b)
}
