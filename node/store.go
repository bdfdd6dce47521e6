package node

import "github.com/zkgo/zkgo/wire"

// store makes txns durable. The owner goroutine appends every txn in zxid
// order and calls Sync at the end of each round (group commit); the store
// reports on Durable the zxid up to which everything appended is durable.
// Replies are sent only after that report.
type store interface {
	Append(e *wire.TxnEntry) error
	Sync()
	Durable() <-chan wire.Zxid
	Close() error
}

// memStore is the store of a server without persistence: every txn is
// "durable" as soon as it is appended.
type memStore struct {
	last, sent wire.Zxid
	ch         chan wire.Zxid
}

func newMemStore(z wire.Zxid) *memStore {
	return &memStore{last: z, sent: z, ch: make(chan wire.Zxid, 1)}
}

func (m *memStore) Append(e *wire.TxnEntry) error {
	m.last = e.Hdr.Zxid
	return nil
}

// Sync publishes the newest zxid; if the previous value was not consumed
// yet, the next Sync publishes (only the owner goroutine calls it).
func (m *memStore) Sync() {
	if m.last == m.sent {
		return
	}
	select {
	case m.ch <- m.last:
		m.sent = m.last
	default:
	}
}

func (m *memStore) Durable() <-chan wire.Zxid { return m.ch }
func (m *memStore) Close() error              { return nil }

// openStore opens the data directory's txn log and loads the database.
func (s *Server) openStore() (store, error) {
	return newMemStore(s.tree.LastZxid), nil
}

func (s *Server) syncStore() { s.store.Sync() }
