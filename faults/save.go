package faults

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/anishathalye/porcupine"
)

// Save writes the run's report, every history (JSON lines of invoke and
// ok/fail/info events), porcupine's visualization of the register history,
// and every node's config and log under dir.
func (r *Result) Save(dir string, e *Ensemble) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	r.Dir = dir
	var errs []error
	errs = append(errs, os.WriteFile(filepath.Join(dir, "report.txt"), []byte(r.Report()), 0o644))
	for _, h := range r.histories {
		f, err := os.Create(filepath.Join(dir, "history-"+h.Name+".jsonl"))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		errs = append(errs, h.WriteEvents(f), f.Close())
	}
	if len(r.linInfo.PartialLinearizations()) > 0 {
		errs = append(errs, porcupine.VisualizePath(RegisterModel, r.linInfo, filepath.Join(dir, "linearizability.html")))
	}
	errs = append(errs, copyFile(filepath.Join(r.runDir, "clients.log"), filepath.Join(dir, "clients.log")))
	if e != nil {
		for _, n := range e.Nodes {
			base := fmt.Sprintf("node%d-%s", n.ID, n.Kind)
			errs = append(errs, copyFile(n.LogPath, filepath.Join(dir, base+".log")),
				copyFile(n.Config, filepath.Join(dir, base+".cfg")))
			// With reconfiguration: the dynamic files, zoo.cfg.bak, .next.
			dyn, _ := filepath.Glob(filepath.Join(n.Dir, "zoo.cfg.*"))
			for _, f := range dyn {
				errs = append(errs, copyFile(f, filepath.Join(dir, base+"-"+filepath.Base(f))))
			}
			// The data dir (snapshots, txn logs) for zkgo txnlog dump and
			// Java's tools; preallocated logs compress to almost nothing.
			tgz := filepath.Join(dir, base+"-data.tgz")
			if out, err := exec.Command("tar", "-C", n.DataDir, "-czf", tgz, ".").CombinedOutput(); err != nil {
				errs = append(errs, fmt.Errorf("tar %s: %w: %s", n.DataDir, err, out))
			}
		}
	}
	return errors.Join(errs...)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	return errors.Join(err, out.Close())
}
