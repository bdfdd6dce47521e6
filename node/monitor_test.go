package node

import (
	"context"
	"testing"
	"time"
)

func TestMonitorRunsOnTheOwner(t *testing.T) {
	s := startStandalone(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := s.Monitor(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, p := range kv {
		got[p[0]] = p[1]
	}
	if got["server_state"] != "standalone" || got["znode_count"] != "5" || kv[0][0] != "version" {
		t.Fatalf("monitor: %v", kv)
	}
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Monitor(ctx); err == nil {
		t.Fatal("Monitor on a stopped server succeeded")
	}
}
