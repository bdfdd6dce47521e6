package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Epoch file names (QuorumPeer.ACCEPTED_EPOCH_FILENAME / CURRENT_EPOCH_FILENAME).
const (
	AcceptedEpochFile = "acceptedEpoch"
	CurrentEpochFile  = "currentEpoch"
)

// ReadEpoch reads an epoch file from dir (a version-2 directory). A missing
// file is reported with os.ErrNotExist. As Java does on recovery, a
// leftover "<name>.tmp" is used when the file itself is missing.
func ReadEpoch(dir, name string) (int64, error) {
	path := filepath.Join(dir, name)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		b, err = os.ReadFile(path + ".tmp")
	}
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("storage: %s holds %q, not a number", path, b)
	}
	return v, nil
}

// WriteEpoch writes an epoch file atomically: decimal text without a
// newline to "<name>.tmp", fsync, rename over the file, fsync the directory
// (AtomicFileOutputStream).
func WriteEpoch(dir, name string, v int64) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	path := filepath.Join(dir, name)
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("storage: write %s: %w", tmp, err)
	}
	_, err = f.WriteString(strconv.FormatInt(v, 10))
	if err == nil {
		err = f.Sync()
	}
	if err = errors.Join(err, f.Close()); err != nil {
		return fmt.Errorf("storage: write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("storage: rename %s: %w", tmp, err)
	}
	return syncDir(dir)
}
