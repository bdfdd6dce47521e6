package main

import (
	"fmt"
	"runtime/debug"
)

// Version is the zkgo release; the build may override it with -ldflags.
var Version = "0.1.0-dev"

func init() {
	register("version", "print zkgo's version", func([]string) int {
		v := Version
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" && len(s.Value) >= 12 {
					v += " (" + s.Value[:12] + ")"
				}
			}
		}
		fmt.Println("zkgo", v)
		return 0
	})
}
