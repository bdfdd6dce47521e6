package zab_test

import (
	"path/filepath"
	"testing"

	"github.com/zkgo/zkgo/internal/testutil/scripttest"
	"github.com/zkgo/zkgo/node/zab/zabtest"
)

// TestScripts runs the scenarios in testdata/*.txt on zabtest's in-memory
// network and stores (go test ./node/zab -run TestScripts -rewrite
// rewrites their expected output).
func TestScripts(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			env := zabtest.NewEnv()
			scripttest.Run(t, f, func(t *testing.T, c *scripttest.Cmd) string {
				kv := map[string]string{}
				for _, a := range c.Args {
					if a.Key != "" {
						kv[a.Key] = a.Val
					}
				}
				// An error (a bad command, or a step the model refuses) is
				// part of the output, for the script to expect.
				out, err := env.Handle(c.Name, c.Words(), kv)
				if err != nil {
					if out != "" {
						out += "\n"
					}
					out += "error: " + err.Error()
				}
				return out
			})
		})
	}
}
