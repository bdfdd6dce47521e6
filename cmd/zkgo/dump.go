package main

import (
	"bufio"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/zkgo/zkgo/node/storage"
	"github.com/zkgo/zkgo/wire"
)

func init() {
	register("snapshot", "snapshot dump <file>: print a ZooKeeper snapshot (Java's or zkgo's)", runSnapshot)
	register("txnlog", "txnlog dump|verify|truncate: print, check or (explicitly) cut ZooKeeper txn logs", runTxnlog)
}

func javaDate(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("Mon Jan 02 15:04:05 MST 2006")
}

func hex14(v int64) string { return fmt.Sprintf("0x%014x", uint64(v)) }

// snapPrinter prints a snapshot as it is read (SnapshotFormatter's layout).
type snapPrinter struct {
	w        *bufio.Writer
	json     bool
	data     bool
	nodes    int
	sessions []wire.SessionTouch
	ephem    map[wire.SessionID]int
	acls     map[int64][]wire.ACL
}

func (p *snapPrinter) Session(id wire.SessionID, to int32) error {
	p.sessions = append(p.sessions, wire.SessionTouch{SessionID: id, TimeoutMs: to})
	return nil
}

func (p *snapPrinter) ACL(idx int64, acl []wire.ACL) error {
	p.acls[idx] = acl
	if p.json {
		b := []byte(`{"type":"acl","index":`)
		b = strconv.AppendInt(b, idx, 10)
		b = append(b, `,"acl":[`...)
		for i := range acl {
			if i > 0 {
				b = append(b, ',')
			}
			b = wire.AppendJSON(b, &acl[i])
		}
		p.w.Write(append(b, "]}\n"...))
	}
	return nil
}

func (p *snapPrinter) Node(path string, data []byte, acl int64, st *wire.StatPersisted) error {
	p.nodes++
	if path == "" {
		path = "/"
	}
	if st.EphemeralOwner != 0 {
		p.ephem[wire.SessionID(st.EphemeralOwner)]++
	}
	if p.json {
		b := []byte(`{"type":"node","path":`)
		b = wire.AppendJSONString(b, path)
		b = append(b, `,"acl":`...)
		b = strconv.AppendInt(b, acl, 10)
		b = append(b, `,"dataLength":`...)
		b = strconv.AppendInt(b, int64(len(data)), 10)
		b = append(b, `,"data":`...)
		if data == nil {
			b = append(b, "null"...)
		} else {
			b = strconv.AppendQuote(b, base64.StdEncoding.EncodeToString(data))
		}
		b = append(b, `,"stat":`...)
		b = wire.AppendJSON(b, st)
		p.w.Write(append(b, "}\n"...))
		return nil
	}
	fmt.Fprintf(p.w, "----\n%s\n", path)
	fmt.Fprintf(p.w, "  cZxid = %s\n  ctime = %s\n  mZxid = %s\n  mtime = %s\n  pZxid = %s\n",
		hex14(int64(st.Czxid)), javaDate(st.Ctime), hex14(int64(st.Mzxid)), javaDate(st.Mtime), hex14(int64(st.Pzxid)))
	fmt.Fprintf(p.w, "  cversion = %d\n  dataVersion = %d\n  aclVersion = %d\n  ephemeralOwner = %s\n",
		st.Cversion, st.Version, st.Aversion, hex14(st.EphemeralOwner))
	if p.data {
		fmt.Fprintf(p.w, "  data = %s\n", base64.StdEncoding.EncodeToString(data))
	} else {
		fmt.Fprintf(p.w, "  dataLength = %d\n", len(data))
	}
	return nil
}

func snapFile(path string) storage.SnapFile {
	f := storage.SnapFile{Path: path}
	base := filepath.Base(path)
	switch {
	case strings.HasSuffix(base, ".gz"):
		f.Compression = storage.CompressGzip
	case strings.HasSuffix(base, ".snappy"):
		f.Compression = storage.CompressSnappy
	}
	if parts := strings.Split(base, "."); len(parts) >= 2 {
		z, _ := strconv.ParseUint(parts[1], 16, 64)
		f.Zxid = wire.Zxid(z)
	}
	return f
}

func runSnapshot(args []string) int {
	if len(args) == 0 || args[0] != "dump" {
		fmt.Fprintln(os.Stderr, "usage: zkgo snapshot dump [--json] [--data] <snapshot file>")
		return 2
	}
	fs := flag.NewFlagSet("snapshot dump", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "JSON lines (one object per ACL entry, node, session; then a summary)")
	withData := fs.Bool("data", false, "print node data (base64) instead of its length")
	limit := limitFlag(fs)
	if err := fs.Parse(args[1:]); err != nil || fs.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: zkgo snapshot dump [--json] [--data] <snapshot file>")
		return 2
	}
	w := bufio.NewWriterSize(os.Stdout, 1<<20)
	defer w.Flush()
	p := &snapPrinter{w: w, json: *asJSON, data: *withData, ephem: map[wire.SessionID]int{}, acls: map[int64][]wire.ACL{}}
	f := snapFile(fs.Arg(0))
	info, err := storage.ReadSnapshot(f, p, limit.limit())
	if err != nil {
		w.Flush()
		fmt.Fprintln(os.Stderr, "zkgo snapshot dump:", err)
		return 1
	}
	if *asJSON {
		for _, s := range p.sessions {
			fmt.Fprintf(w, `{"type":"session","sessionId":"0x%x","timeout":%d,"ephemeralCount":%d}`+"\n",
				uint64(s.SessionID), s.TimeoutMs, p.ephem[s.SessionID])
		}
		b := []byte(`{"type":"summary","zxid":"`)
		b = append(b, f.Zxid.String()...)
		b = append(b, `","nodes":`...)
		b = strconv.AppendInt(b, int64(p.nodes), 10)
		b = append(b, `,"sessions":`...)
		b = strconv.AppendInt(b, int64(len(p.sessions)), 10)
		if info.Digest != nil {
			b = append(b, fmt.Sprintf(`,"digest":{"zxid":"%s","version":%d,"value":%d}`, info.Digest.Zxid, info.Digest.Version, int64(info.Digest.Digest))...)
		}
		w.Write(append(b, "}\n"...))
		return 0
	}
	fmt.Fprintf(w, "----\nZNode Details (count=%d)\n----\n", p.nodes)
	fmt.Fprintln(w, "Session Details (sid, timeout, ephemeralCount):")
	for _, s := range p.sessions {
		fmt.Fprintf(w, "0x%x, %d, %d\n", uint64(s.SessionID), s.TimeoutMs, p.ephem[s.SessionID])
	}
	fmt.Fprintf(w, "----\nLast zxid: %s\n", f.Zxid)
	if info.Digest != nil {
		fmt.Fprintf(w, "Digest: zxid %s version %d value %d\n", info.Digest.Zxid, info.Digest.Version, int64(info.Digest.Digest))
	}
	return 0
}

func runTxnlog(args []string) int {
	usage := "usage: zkgo txnlog dump [--json] [--jute-maxbuffer N] <log file>\n" +
		"       zkgo txnlog verify [--snapdir DATADIR] DATALOGDIR\n" +
		"       zkgo txnlog truncate --at ZXID [--snapdir DATADIR] [--yes] DATALOGDIR"
	if len(args) > 0 {
		switch args[0] {
		case "verify":
			return runTxnlogVerify(args[1:])
		case "truncate":
			return runTxnlogTruncate(args[1:])
		}
	}
	if len(args) == 0 || args[0] != "dump" {
		fmt.Fprintln(os.Stderr, usage)
		return 2
	}
	fs := flag.NewFlagSet("txnlog dump", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "JSON lines: one object per txn")
	limit := limitFlag(fs)
	if err := fs.Parse(args[1:]); err != nil || fs.NArg() != 1 {
		fmt.Fprintln(os.Stderr, usage)
		return 2
	}
	path := fs.Arg(0)
	w := bufio.NewWriterSize(os.Stdout, 1<<20)
	defer w.Flush()
	lr := storage.NewLogReader([]storage.LogFile{{Path: path}}, limit.limit())
	defer lr.Close()
	if !*asJSON {
		fmt.Fprintln(w, "ZooKeeper Transactional Log File with dbid 0 txnlog format version 2")
	}
	n := 0
	for {
		rec, err := lr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			w.Flush()
			fmt.Fprintf(os.Stderr, "zkgo txnlog dump: after %d txns: %v\n", n, err)
			return 1
		}
		n++
		printTxn(w, rec, *asJSON, limit.limit())
	}
	if t := lr.Tail; t != nil {
		fmt.Fprintf(w, "Last transaction was partial (torn write at offset %d: %s).\n", t.Offset, t.Reason)
	}
	if !*asJSON {
		fmt.Fprintf(w, "EOF reached after %d txns.\n", n)
	}
	return 0
}

func printTxn(w *bufio.Writer, rec *storage.Record, asJSON bool, limit int) {
	e := &rec.Entry
	h := &e.Hdr
	if asJSON {
		b := []byte(`{"offset":`)
		b = strconv.AppendInt(b, rec.Offset, 10)
		b = append(b, `,"op":`...)
		b = strconv.AppendQuote(b, h.Type.String())
		b = append(b, `,"header":`...)
		b = wire.AppendJSON(b, h)
		if e.Body != nil {
			b = append(b, `,"txn":`...)
			b = wire.AppendJSON(b, e.Body)
			if m, ok := e.Body.(*wire.MultiTxn); ok {
				if subs, err := wire.DecodeSubTxns(m, limit); err == nil {
					b = append(b, `,"ops":[`...)
					for i, s := range subs {
						if i > 0 {
							b = append(b, ',')
						}
						b = append(b, `{"op":`...)
						b = strconv.AppendQuote(b, m.Txns[i].Type.String())
						b = append(b, `,"txn":`...)
						b = wire.AppendJSON(b, s)
						b = append(b, '}')
					}
					b = append(b, ']')
				}
			}
		}
		if e.Digest != nil {
			b = append(b, `,"digest":`...)
			b = wire.AppendJSON(b, e.Digest)
		}
		w.Write(append(b, "}\n"...))
		return
	}
	ts := time.UnixMilli(h.Time).UTC().Format("1/2/06, 3:04:05 PM MST")
	fmt.Fprintf(w, "%s session 0x%x cxid 0x%x zxid 0x%x %s", ts, uint64(h.ClientID), uint32(h.Cxid), uint64(h.Zxid), h.Type)
	if e.Body != nil {
		if m, ok := e.Body.(*wire.MultiTxn); ok {
			if subs, err := wire.DecodeSubTxns(m, limit); err == nil {
				var parts []string
				for i, s := range subs {
					parts = append(parts, m.Txns[i].Type.String()+" "+wire.FormatText(s))
				}
				fmt.Fprintf(w, " [%s]", strings.Join(parts, "; "))
			}
		} else {
			fmt.Fprintf(w, " %s", wire.FormatText(e.Body))
		}
	}
	if e.Digest != nil {
		fmt.Fprintf(w, " digest %d", e.Digest.TreeDigest)
	}
	w.WriteByte('\n')
}
