package faults

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// A node whose first reads fail (an election right after the recovery)
// is read again; one that never answers is reported with its first error.
func TestFinalReadRetries(t *testing.T) {
	lost := errors.New("zk: connection closed")
	calls, retried := 0, 0
	tree, err := finalRead(context.Background(), time.Millisecond, func(i int) (map[string]Znode, error) {
		calls++
		if i < 2 {
			return nil, lost
		}
		return map[string]Znode{"/r": {Data: "x"}}, nil
	}, func(error) { retried++ })
	if err != nil || tree["/r"].Data != "x" || calls != 3 || retried != 2 {
		t.Fatalf("finalRead = %v, %v after %d calls, %d retries; want the tree after 3 calls", tree, err, calls, retried)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	calls = 0
	_, err = finalRead(ctx, time.Millisecond, func(i int) (map[string]Znode, error) {
		calls++
		if i == 0 {
			return nil, lost
		}
		return nil, errors.New("later error")
	}, func(error) {})
	if !errors.Is(err, lost) || !strings.Contains(err.Error(), "read ") || calls < 2 {
		t.Fatalf("finalRead of a node that never answers = %v after %d calls; want its first error after several reads", err, calls)
	}
}
