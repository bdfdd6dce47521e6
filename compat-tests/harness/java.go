package harness

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Java locates the JDK and ZooKeeper 3.8's jars (Debian's zookeeper package).
type Java struct {
	Java    string // java binary
	Javac   string // javac binary
	ZKJar   string // zookeeper.jar
	JuteJar string // zookeeper-jute.jar
	LibDir  string // directory holding the jars and their dependencies
}

// JarDir is where Debian installs ZooKeeper's jars; ZKGO_JAVA_LIB overrides it.
func JarDir() string {
	if d := os.Getenv("ZKGO_JAVA_LIB"); d != "" {
		return d
	}
	return "/usr/share/java"
}

// SkipShort skips compat tests under `go test -short` (make test-short);
// `make test` and CI never pass -short.
func SkipShort(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("compat test: runs real servers and clients; not in -short mode")
	}
}

// InCI reports whether the tests run in CI (CI=true), where missing
// dependencies are failures.
func InCI() bool { return os.Getenv("CI") == "true" }

// Unavailable skips t, or fails it in CI, because a dependency is missing.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if InCI() {
		t.Fatalf("CI=true and a compat dependency is missing: "+format, args...)
	}
	t.Skipf("skipping (set up with .ci/run or apt-get install zookeeper): "+format, args...)
}

// RequireJava returns the Java toolchain and jars, or skips/fails t.
func RequireJava(t testing.TB) *Java {
	t.Helper()
	SkipShort(t)
	j := &Java{LibDir: JarDir()}
	var err error
	if j.Java, err = exec.LookPath("java"); err != nil {
		Unavailable(t, "java not on PATH")
	}
	if j.Javac, err = exec.LookPath("javac"); err != nil {
		Unavailable(t, "javac not on PATH")
	}
	j.ZKJar = filepath.Join(j.LibDir, "zookeeper.jar")
	j.JuteJar = filepath.Join(j.LibDir, "zookeeper-jute.jar")
	for _, f := range []string{j.ZKJar, j.JuteJar} {
		if _, err := os.Stat(f); err != nil {
			Unavailable(t, "%s missing", f)
		}
	}
	return j
}

// Classpath joins the ZooKeeper jars, their logging dependencies and extra
// entries.
func (j *Java) Classpath(extra ...string) string {
	cp := []string{j.ZKJar, j.JuteJar}
	for _, dep := range []string{"slf4j-api.jar", "slf4j-simple.jar", "netty-handler.jar", "netty-common.jar",
		"netty-buffer.jar", "netty-transport.jar", "netty-codec.jar", "netty-resolver.jar",
		"netty-transport-native-epoll.jar", "netty-transport-native-unix-common.jar", "commons-cli.jar",
		"metrics-core.jar", "snappy-java.jar", "jline.jar", "audience-annotations.jar"} {
		p := filepath.Join(j.LibDir, dep)
		if _, err := os.Stat(p); err == nil {
			cp = append(cp, p)
		}
	}
	return strings.Join(append(extra, cp...), ":")
}

// Compile compiles the Java sources into a fresh directory and returns it.
func (j *Java) Compile(t testing.TB, srcs ...string) string {
	t.Helper()
	out := t.TempDir()
	args := append([]string{"-nowarn", "-encoding", "UTF-8", "-cp", j.Classpath(), "-d", out}, srcs...)
	cmd := exec.Command(j.Javac, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("javac %v: %v\n%s", srcs, err, stderr.String())
	}
	return out
}

// Command returns an exec.Cmd running class main of classDir with args.
func (j *Java) Command(classDir, main string, jvmArgs []string, args ...string) *exec.Cmd {
	a := append([]string{"-cp", j.Classpath(classDir)}, jvmArgs...)
	a = append(a, main)
	return exec.Command(j.Java, append(a, args...)...)
}
