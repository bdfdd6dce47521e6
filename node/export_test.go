package node

// EnableReconfigForTest turns dynamic reconfiguration on for c, as
// reconfigEnabled=true in zoo.cfg does (the tests' ensembles write zoo.cfg
// without it).
func EnableReconfigForTest(c *Config) {
	c.ReconfigEnabled = true
}

// HostResolver is hostResolver (reconfig.go).
var HostResolver = hostResolver
