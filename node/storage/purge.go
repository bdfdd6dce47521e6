package storage

import (
	"errors"
	"fmt"
	"os"
)

// Purge keeps the newest retain valid snapshots in snapDir and deletes
// older snapshots and the txn logs no retained snapshot needs
// (PurgeTxnLog.purge): files whose zxid is below the oldest retained
// snapshot's go, except the newest log starting before it, which may hold
// txns after it. It returns the removed paths.
func Purge(snapDir, logDir string, retain int) ([]string, error) {
	if retain < 3 {
		retain = 3
	}
	snaps, err := ListSnapshots(snapDir)
	if err != nil {
		return nil, err
	}
	var valid []SnapFile
	for _, s := range snaps {
		if LooksValid(s) {
			valid = append(valid, s)
			if len(valid) == retain {
				break
			}
		}
	}
	if len(valid) == 0 {
		return nil, nil
	}
	least := valid[len(valid)-1].Zxid
	logs, err := ListLogs(logDir)
	if err != nil {
		return nil, err
	}
	keep := map[string]bool{}
	for _, l := range LogsFrom(logs, least) {
		keep[l.Path] = true
	}
	var removed []string
	var errs []error
	rm := func(path string) {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("storage: purge %s: %w", path, err))
			return
		}
		removed = append(removed, path)
	}
	for _, s := range snaps {
		if s.Zxid < least {
			rm(s.Path)
		}
	}
	for _, l := range logs {
		if l.Zxid < least && !keep[l.Path] {
			rm(l.Path)
		}
	}
	return removed, errors.Join(errs...)
}
