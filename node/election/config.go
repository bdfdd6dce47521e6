package election

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/rs/zerolog"

	"github.com/zkgo/zkgo/node/fle"
	"github.com/zkgo/zkgo/node/quorum"
)

// Errors returned by the service.
var (
	ErrClosed = errors.New("election: service closed")
	ErrBusy   = errors.New("election: an election is already running")
	// ErrRestarted ends an election that a new configuration restarted
	// (Reconfigure).
	ErrRestarted = errors.New("election: restarted with a new configuration")
	ErrConfig    = errors.New("election: bad config")
)

// Defaults (Java 3.8).
const (
	DefaultCnxTimeout       = 5 * time.Second  // zookeeper.cnxTimeout
	DefaultHandshakeTimeout = 10 * time.Second // tickTime 2000 * syncLimit 5
	// DefaultMaxPendingHandshakes is quorum.cnxn.threads.size's default
	// (and smallest value): the size of Java's QuorumConnectionThread pool.
	DefaultMaxPendingHandshakes = 20
	minWriteTimeout             = 5 * time.Second
)

// Member is one server of the ensemble as the election sees it.
type Member struct {
	ID    int64
	Addr  string // host:electionPort
	Voter bool   // participant; false for observers
	// Outside (this server's own entry only): it is not in the
	// configuration; it votes for no one and follows the leader it finds
	// (a non-voting participant, fle.Config.NonVoting).
	Outside bool
}

// Config configures a Service.
type Config struct {
	MyID    int64
	Members map[int64]Member // the whole ensemble, me included
	// ConfigText is the QuorumVerifier text sent in every notification
	// (node.Quorum.Text()). Java parses it; it must not be empty.
	ConfigText []byte
	// ListenAddr defaults to Members[MyID].Addr: Java binds the configured
	// address unless quorumListenOnAllIPs is set.
	ListenAddr string
	// Listener, if set, is used instead of listening on ListenAddr (tests).
	// The service closes it.
	Listener net.Listener
	CanLead  bool
	// ReconfigEnabled: a notification with a newer configuration ends
	// the election running (NewerConfigError).
	ReconfigEnabled bool
	// Verifier decides what a quorum of votes is (fle.Config.Verifier);
	// nil means a majority of the voters.
	Verifier quorum.Verifier
	// CnxTimeout bounds connecting to a peer (zookeeper.cnxTimeout,
	// default 5s). Writes use max(CnxTimeout, 5s).
	CnxTimeout time.Duration
	// HandshakeTimeout bounds reading a peer's initial message, in total
	// (Java's quorum socket timeout, zookeeper.quorumCnxnTimeoutMs or
	// tickTime*syncLimit, applies it to each read; default 10s).
	HandshakeTimeout time.Duration
	// MaxPendingHandshakes bounds the inbound connections whose initial
	// message has not arrived (default: quorum.cnxn.threads.size's 20, or
	// the ensemble's size if larger); one more evicts one of them
	// (package internal/handshake).
	MaxPendingHandshakes int
	// FastLeaderElection timing: 200ms, 60s and 200ms by default.
	MinNotificationInterval, MaxNotificationInterval, FinalizeWait time.Duration
	// Dial, when set, opens a connection to a peer's election port in
	// place of a plain TCP dial (quorum TLS: node/quorumsec.go). It must
	// give up when ctx is done.
	Dial func(ctx context.Context, sid int64, addr string) (net.Conn, error)
	// AuthLearner, when set, runs after the initial message is sent on a
	// dialed connection, and AuthServer after it is read on an accepted
	// one (r holds what was read past it): the quorum SASL exchange, which
	// Java's QuorumCnxManager runs at those points. An error drops the
	// connection.
	AuthLearner func(c net.Conn, sid int64) error
	AuthServer  func(c net.Conn, r *bufio.Reader) error
	// Logger gets component=election added; the caller adds identity keys
	// such as myid (each key appears once per line).
	Logger zerolog.Logger
}

func (c Config) withDefaults() Config {
	c.Members = maps.Clone(c.Members)
	c.ConfigText = slices.Clone(c.ConfigText)
	if c.ListenAddr == "" {
		c.ListenAddr = c.Members[c.MyID].Addr
	}
	if c.CnxTimeout <= 0 {
		c.CnxTimeout = DefaultCnxTimeout
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if c.MaxPendingHandshakes <= 0 {
		c.MaxPendingHandshakes = max(DefaultMaxPendingHandshakes, len(c.Members))
	}
	if c.MinNotificationInterval <= 0 {
		c.MinNotificationInterval = fle.DefaultMinNotificationInterval
	}
	if c.MaxNotificationInterval <= 0 {
		c.MaxNotificationInterval = fle.DefaultMaxNotificationInterval
	}
	if c.FinalizeWait <= 0 {
		c.FinalizeWait = fle.DefaultFinalizeWait
	}
	return c
}

func (c Config) validate() error {
	me, ok := c.Members[c.MyID]
	if !ok {
		return fmt.Errorf("%w: myid %d is not a member", ErrConfig, c.MyID)
	}
	if len(c.ConfigText) == 0 || !bytes.Contains(c.ConfigText, []byte("server.")) {
		// Java parses it from every notification; a config without
		// servers makes it throw (and can kill its receiver thread).
		return fmt.Errorf("%w: config text without server lines", ErrConfig)
	}
	voters := 0
	for id, m := range c.Members {
		if m.ID != id {
			return fmt.Errorf("%w: member %d has id %d", ErrConfig, id, m.ID)
		}
		if _, port, err := net.SplitHostPort(m.Addr); err != nil {
			return fmt.Errorf("%w: member %d address %q: %v", ErrConfig, id, m.Addr, err)
		} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
			return fmt.Errorf("%w: member %d address %q: bad port", ErrConfig, id, m.Addr)
		}
		if m.Voter {
			voters++
		}
	}
	if voters == 0 {
		return fmt.Errorf("%w: no voters", ErrConfig)
	}
	if c.Listener == nil && c.ListenAddr == "" {
		return fmt.Errorf("%w: no listen address for %d (%q)", ErrConfig, c.MyID, me.Addr)
	}
	if c.MaxNotificationInterval < c.MinNotificationInterval {
		return fmt.Errorf("%w: MaxNotificationInterval < MinNotificationInterval", ErrConfig)
	}
	return nil
}

func (c *Config) voters() []int64 {
	var out []int64
	for id, m := range c.Members {
		if m.Voter {
			out = append(out, id)
		}
	}
	return out
}

func (c *Config) writeTimeout() time.Duration { return max(c.CnxTimeout, minWriteTimeout) }
