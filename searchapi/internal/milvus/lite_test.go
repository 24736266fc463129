package milvus

import (
	"context"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// liteServer is a milvus-lite server (the Python package's CLI) on a free loopback port,
// with its data in a test directory; it can be killed and started again on both.
type liteServer struct {
	t      *testing.T
	binary string
	dir    string
	port   int
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has exited
}

// startLite starts a milvus-lite server for the test, stopped (by SIGINT) when it ends. It
// skips under -short and fails when milvus-lite is not installed.
func startLite(t *testing.T) *liteServer {
	t.Helper()
	if testing.Short() {
		t.Skip("needs milvus-lite (runs without -short)")
	}
	binary := os.Getenv("MILVUS_LITE")
	if binary == "" {
		binary = "../../../.venv/bin/milvus-lite"
	}
	if _, err := os.Stat(binary); err != nil {
		t.Fatalf("milvus-lite not found (%v): run `make setup` in the repository, or set MILVUS_LITE to its path", err)
	}
	// milvus-lite shuts down cleanly only on SIGINT, which a child inherits ignored when the
	// test runs in the background of a non-interactive shell: catching it here makes the
	// child's disposition the default again (exec resets caught signals, not ignored ones).
	if signal.Ignored(os.Interrupt) {
		signal.Notify(make(chan os.Signal, 1), os.Interrupt)
	}
	s := &liteServer{t: t, binary: binary, dir: t.TempDir(), port: freePort(t)}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *liteServer) uri() string { return "http://127.0.0.1:" + strconv.Itoa(s.port) }

// start runs the server and waits until it accepts connections.
func (s *liteServer) start() {
	s.t.Helper()
	log, err := os.OpenFile(filepath.Join(s.dir, "milvus-lite.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		s.t.Fatal(err)
	}
	defer func() { _ = log.Close() }() // the child has its own copy
	s.cmd = exec.Command(s.binary, "server", "--data-dir", filepath.Join(s.dir, "data"),
		"--host", "127.0.0.1", "--port", strconv.Itoa(s.port))
	s.cmd.Stdout, s.cmd.Stderr = log, log
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("starting milvus-lite: %v", err)
	}
	s.exited = make(chan struct{})
	go func(cmd *exec.Cmd, exited chan struct{}) {
		_ = cmd.Wait()
		close(exited)
	}(s.cmd, s.exited)
	address := net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		select {
		case <-s.exited:
			s.t.Fatalf("milvus-lite exited at start:\n%s", s.output())
		default:
		}
		conn, err := (&net.Dialer{Timeout: time.Second}).DialContext(context.Background(), "tcp", address)
		if err == nil {
			_ = conn.Close()
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("milvus-lite did not listen on %s within 30 s:\n%s", address, s.output())
}

// output is what the server wrote so far.
func (s *liteServer) output() string {
	log, _ := os.ReadFile(filepath.Join(s.dir, "milvus-lite.log"))
	return string(log)
}

// kill ends the server abruptly (a crash), and waits for it to be gone.
func (s *liteServer) kill() {
	s.t.Helper()
	_ = s.cmd.Process.Kill()
	<-s.exited
}

// stop asks the server to shut down (SIGINT), killing it if it has not within 15 s.
func (s *liteServer) stop() {
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		s.t.Logf("milvus-lite ignored SIGINT for 15 s; killing it")
		s.kill()
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	listener, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = listener.Close() }()
	addr, ok := listener.Addr().(*net.TCPAddr)
	if !ok {
		t.Fatalf("not a TCP address: %v", listener.Addr())
	}
	return addr.Port
}
