package bench

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/zkgo/zkgo/wire"
)

// FailoverCell is one failover measurement on one ensemble (issue 19,
// point 2, the part that needs no large tree).
type FailoverCell struct {
	Mix string `json:"mix"`
	Rep int    `json:"rep"`
	// FirstWriteMs is the time from SIGKILL of the leader to the first
	// acknowledged setData through a surviving member (each attempt a new
	// session, so its createSession is committed by the new leader too).
	FirstWriteMs float64 `json:"first_write_ms"`
	// NewLeader is the member that leads afterwards ("2 (java)").
	NewLeader string `json:"new_leader"`
	// RejoinMs is the time from restarting the killed leader on its data
	// dir until it follows and serves a session; RejoinSync is how it
	// synced (DIFF, TRUNC or SNAP, from its log; "" when the log did not
	// say).
	RejoinMs   float64 `json:"rejoin_ms"`
	RejoinSync string  `json:"rejoin_sync,omitempty"`
	// TxnsBeforeKill is the counter half of the leader's zxid just before
	// the kill (0 if srvr failed): the txns of the epoch so far, which
	// the restarted member reloads from its log (all of them, unless it
	// took a snapshot meanwhile), so RejoinMs grows with it.
	TxnsBeforeKill int64  `json:"txns_before_kill,omitempty"`
	Err            string `json:"error,omitempty"`
}

// measureFailover kills e's leader, times the first acknowledged write
// through the survivors, then restarts the killed member and times its
// rejoin. It leaves the ensemble with another leader: run it last.
func measureFailover(e *Ensemble, path string, timeout time.Duration) FailoverCell {
	fc := FailoverCell{Mix: e.Mix.Name}
	old := e.Leader()
	survivors := e.Followers()
	if info, err := Srvr(old.Addr); err == nil && info.Zxid > 0 {
		fc.TxnsBeforeKill = info.Zxid & 0xffffffff
	}
	t0 := time.Now()
	old.Stop()
	deadline := t0.Add(timeout)
	var lastErr error
	for i := 0; ; i++ {
		s := survivors[i%len(survivors)]
		if lastErr = tryWrite(s.Addr, path); lastErr == nil {
			fc.FirstWriteMs = float64(time.Since(t0).Microseconds()) / 1000
			break
		}
		var code wire.ErrCode
		if errors.As(lastErr, &code) {
			// The server answered with an error: retrying will not help.
			fc.Err = fmt.Sprintf("write through member %s: %v", s.Addr, lastErr)
			return fc
		}
		if time.Now().After(deadline) {
			fc.Err = fmt.Sprintf("no acknowledged write within %v: %v", timeout, lastErr)
			return fc
		}
		time.Sleep(5 * time.Millisecond)
	}
	for i, s := range e.Members {
		if s == old {
			continue
		}
		if info, err := Srvr(s.Addr); err == nil && info.Mode == "leader" {
			fc.NewLeader = fmt.Sprintf("%d (%s)", i+1, s.Spec.Kind)
		}
	}
	// Restart the killed member on its data dir and config.
	ms, sync, err := restartMember(old, timeout)
	if err != nil {
		fc.Err = fmt.Sprintf("the restarted old leader: %v", err)
		return fc
	}
	fc.RejoinMs, fc.RejoinSync = ms, sync
	return fc
}

// restartMember starts the stopped member s again on its data dir and
// config and waits until srvr says it follows and it serves a session. It
// returns the time from exec to then and how it synced with the leader
// (DIFF, TRUNC or SNAP, from what it logged; "" when its log does not say).
func restartMember(s *Server, timeout time.Duration) (ms float64, sync string, err error) {
	logOff := int64(0)
	if st, err := os.Stat(s.LogPath); err == nil {
		logOff = st.Size()
	}
	t0 := time.Now()
	if err := s.launch(filepath.Join(s.Dir, "zoo.cfg")); err != nil {
		return 0, "", fmt.Errorf("restarting: %w", err)
	}
	deadline := t0.Add(timeout)
	for {
		if info, err := Srvr(s.Addr); err == nil && info.Mode == "follower" && s.serves() {
			ms = float64(time.Since(t0).Microseconds()) / 1000
			break
		}
		select {
		case err := <-s.exited:
			s.cmd = nil
			return 0, "", fmt.Errorf("exited: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			return 0, "", fmt.Errorf("did not follow within %v", timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if b, err := os.ReadFile(s.LogPath); err == nil && int64(len(b)) >= logOff {
		sync = syncMode(string(b[logOff:]))
	}
	return ms, sync, nil
}

// tryWrite opens a session on addr and sets path's data once, each step
// bounded by a second.
func tryWrite(addr, path string) error {
	c, err := dialWithin(addr, 30000, 4096, time.Second, time.Second)
	if err != nil {
		return err
	}
	defer c.closeSession(time.Second)
	_ = c.nc.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.nc.Write(wire.AppendRequest(nil, wire.RequestHeader{Xid: 1, Type: wire.OpSetData},
		&wire.SetDataRequest{Path: path, Data: []byte("failover"), Version: -1})); err != nil {
		return err
	}
	for {
		h, err := c.readReply()
		if err != nil {
			return err
		}
		if h.Xid != 1 {
			continue // a ping or a watch event
		}
		if h.Err != wire.ErrOk {
			return fmt.Errorf("setData: %w", h.Err)
		}
		return nil
	}
}

// syncMode says how a learner synced with its leader, from its log: Java
// 3.8's Learner lines, or the "mode" of zkgo's "synced with the leader"
// line.
func syncMode(log string) string {
	for _, line := range strings.Split(log, "\n") {
		for _, m := range []struct{ mode, java string }{
			{"SNAP", "Getting a snapshot from leader"},
			{"TRUNC", "Truncating log to get in sync with the leader"},
			{"DIFF", "Getting a diff from the leader"},
		} {
			if strings.Contains(line, m.java) ||
				(strings.Contains(line, "synced with the leader") && strings.Contains(line, `"mode":"`+m.mode+`"`)) {
				return m.mode
			}
		}
	}
	return ""
}
