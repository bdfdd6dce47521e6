package node

// EnableReconfigForTest turns the reconfig protocol on for c
// (reconfigEnabled=true plus the test-only switch; zoo.cfg cannot set
// it).
func EnableReconfigForTest(c *Config) {
	c.ReconfigEnabled = true
	c.driveReconfig = true
}
