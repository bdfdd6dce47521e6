package node

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/zkgo/zkgo/internal/hoptrace"
	"github.com/zkgo/zkgo/node/storage"
	"github.com/zkgo/zkgo/wire"
)

// store makes txns durable. The owner goroutine appends every txn in zxid
// order and calls Sync at the end of each round; a writer goroutine writes
// and fsyncs whatever has queued up (group commit: every batch that arrived
// while the previous fsync ran shares the next one) and then reports the
// durable zxid. Replies are sent only after that report.
type store interface {
	// Append queues a txn (owner goroutine only).
	Append(e *wire.TxnEntry)
	// Roll starts a new log file after the txns appended so far.
	Roll()
	// Sync hands queued txns to the writer (end of each round).
	Sync()
	// Durable signals that DurableZxid advanced.
	Durable() <-chan struct{}
	DurableZxid() wire.Zxid
	// Failed delivers a write or fsync failure; the log is cut back to
	// the last durable txn and the store refuses batches until Recover.
	Failed() <-chan storeFailure
	Recover()
	Stats() storeStats
	Close() error
}

// storeFailure reports a failed append/fsync.
type storeFailure struct {
	err     error
	durable wire.Zxid // everything up to here is durable
}

type storeStats struct {
	fsyncs      int64
	txns        int64
	fsyncMicros int64
	maxFsyncUs  int64
	minFsyncUs  int64
	maxBatch    int64
}

// storeBatch is one hand-off to the writer goroutine.
type storeBatch struct {
	entries []*wire.TxnEntry
	roll    bool // roll the log after these entries
	recover bool // clear the failed state first
}

// diskStore is the store backed by the txn log.
type diskStore struct {
	log     *storage.TxnLog // owned by the writer goroutine
	logger  zerolog.Logger
	jsum    *javaSummaries // fed by the writer goroutine
	pending []*wire.TxnEntry
	roll    bool
	recov   bool
	queued  []storeBatch // batches the writer could not take yet

	in      chan storeBatch
	durable chan struct{}
	failed  chan storeFailure
	latest  atomic.Int64
	quit    chan struct{}
	done    chan struct{}

	fsyncs, txns, fsyncUs, maxFsyncUs, minFsyncUs, maxBatch atomic.Int64

	closeOnce sync.Once
	closeErr  error
}

func newDiskStore(l *storage.TxnLog, durable wire.Zxid, logger zerolog.Logger, jsum *javaSummaries) *diskStore {
	d := &diskStore{
		log:     l,
		logger:  logger,
		jsum:    jsum,
		in:      make(chan storeBatch, 256),
		durable: make(chan struct{}, 1),
		failed:  make(chan storeFailure, 1),
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	d.minFsyncUs.Store(-1)
	d.latest.Store(int64(durable))
	go d.writer()
	return d
}

func (d *diskStore) Append(e *wire.TxnEntry) { d.pending = append(d.pending, e) }

func (d *diskStore) Roll() {
	d.roll = true
	d.Sync()
}

func (d *diskStore) Recover() {
	d.recov = true
	d.Sync()
}

// Sync hands what is pending to the writer without blocking: if its queue
// is full the batch waits here for the next round (the writer signals
// Durable when it finishes one, which brings the owner back).
func (d *diskStore) Sync() {
	if len(d.pending) > 0 || d.roll || d.recov {
		d.queued = append(d.queued, storeBatch{entries: d.pending, roll: d.roll, recover: d.recov})
		d.pending, d.roll, d.recov = nil, false, false
	}
	for len(d.queued) > 0 {
		select {
		case d.in <- d.queued[0]:
			hoptrace.Mark(hoptrace.HandedOff)
			d.queued[0] = storeBatch{}
			d.queued = d.queued[1:]
		default:
			return
		}
	}
	d.queued = nil
}

func (d *diskStore) Durable() <-chan struct{}    { return d.durable }
func (d *diskStore) DurableZxid() wire.Zxid      { return wire.Zxid(d.latest.Load()) }
func (d *diskStore) Failed() <-chan storeFailure { return d.failed }
func (d *diskStore) notify() {
	select {
	case d.durable <- struct{}{}:
	default:
	}
}
func (d *diskStore) Close() error {
	d.closeOnce.Do(func() {
		close(d.quit)
		<-d.done
		d.closeErr = d.log.Close()
	})
	return d.closeErr
}
func (d *diskStore) Stats() storeStats {
	return storeStats{fsyncs: d.fsyncs.Load(), txns: d.txns.Load(), fsyncMicros: d.fsyncUs.Load(),
		maxFsyncUs: d.maxFsyncUs.Load(), minFsyncUs: d.minFsyncUs.Load(), maxBatch: d.maxBatch.Load()}
}

// writer is the log writer goroutine.
func (d *diskStore) writer() {
	defer close(d.done)
	broken := false
	var batches []storeBatch
	for {
		select {
		case b := <-d.in:
			hoptrace.Mark(hoptrace.Writer)
			batches = append(batches[:0], b)
		case <-d.quit:
			// Whatever is still queued was never acknowledged; write it
			// anyway so a clean stop loses nothing.
			batches = batches[:0]
			for {
				select {
				case b := <-d.in:
					batches = append(batches, b)
					continue
				default:
				}
				break
			}
			if !broken {
				d.writeBatches(batches)
			}
			return
		}
		// Group commit: take everything else already queued.
		for more := true; more; {
			select {
			case b := <-d.in:
				batches = append(batches, b)
			default:
				more = false
			}
		}
		for i := range batches {
			if batches[i].recover {
				broken = false
			}
		}
		if broken {
			continue // refused until Recover; the owner failed these txns
		}
		if err := d.writeBatches(batches); err != nil {
			broken = true
			durable := wire.Zxid(d.latest.Load())
			if derr := d.log.Discard(); derr != nil {
				err = derr
			}
			d.logger.Error().Err(err).Str("durable_zxid", durable.String()).
				Msg("txn log write failed; refusing writes until the log recovers")
			select {
			case d.failed <- storeFailure{err: err, durable: durable}:
			default:
			}
			d.notify()
		}
	}
}

func (d *diskStore) writeBatches(batches []storeBatch) error {
	n := 0
	var last wire.Zxid
	for _, b := range batches {
		for _, e := range b.entries {
			if err := d.log.Append(e); err != nil {
				return err
			}
			last = e.Hdr.Zxid
			n++
		}
		if b.roll {
			if err := d.log.Roll(); err != nil {
				return err
			}
			if n > 0 {
				d.latest.Store(int64(last))
			}
		}
	}
	if n == 0 {
		return nil
	}
	start := time.Now()
	if err := d.log.Sync(); err != nil {
		return err
	}
	hoptrace.Mark(hoptrace.FsyncDone)
	took := time.Since(start)
	us := took.Microseconds()
	d.jsum.observeFsync(took, n)
	d.fsyncs.Add(1)
	d.txns.Add(int64(n))
	d.fsyncUs.Add(us)
	if us > d.maxFsyncUs.Load() {
		d.maxFsyncUs.Store(us)
	}
	if m := d.minFsyncUs.Load(); m < 0 || us < m {
		d.minFsyncUs.Store(us)
	}
	if int64(n) > d.maxBatch.Load() {
		d.maxBatch.Store(int64(n))
	}
	d.latest.Store(int64(last))
	d.notify()
	return nil
}
