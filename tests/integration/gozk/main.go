// Integration checks driven by go-zookeeper (Debian golang-github-samuel-go-zookeeper-dev,
// github.com/samuel/go-zookeeper/zk, snapshot 2018-01-30).
//
//	GO111MODULE=off GOPATH=/usr/share/gocode:<tmp> go build -o gozk_test tests/integration/gozk/main.go
//	gozk_test HOST:PORT [name-filter]
//
// Prints one line per check, "ok <name>" or "FAIL <name>: <detail>", and exits 1 when any check
// failed (2 on a usage error). Each check works below its own path under /gozk-<pid> with its
// own connections, closed when the check ends.
//
// What this client does differently from the Java/C clients, and what the checks pin down:
//   - its ConnectRequest is 44 bytes, without the trailing readOnly byte; the server must answer
//     with the 36-byte ConnectResponse of an "old client" (no readOnly byte either);
//   - AddAuth, and the auth and setWatches (101) it re-sends after a reconnect, use ordinary
//     positive xids, which the server must echo (the Java client uses -4 and -8);
//   - an expired session is recognised only by sessionId == 0 in the ConnectResponse.
//
// Connections go through a dialer that records every frame and can cut the TCP connection and
// hold reconnection until released, to force reconnects with watches outstanding.
//
// This go-zookeeper snapshot has no CreateTTL/CreateContainer/AddWatch API, so TTL and container
// nodes are not exercised here (the Java and Curator programs cover them). Its FLWSrvr/FLWCons
// parsers predate ZooKeeper 3.8's output format (they fail against the reference), so only
// FLWRuok is used.
package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/samuel/go-zookeeper/zk"
)

const (
	sessionTimeout = 10 * time.Second
	waitTimeout    = 10 * time.Second // bound for any single expected event
)

var (
	hostport string
	root     string
	failures int

	openMu       sync.Mutex
	openSessions []*session
)

// ------------------------------------------------------------------ harness

type checkFailed struct{ msg string }

func where() string {
	pcs := make([]uintptr, 32)
	n := runtime.Callers(3, pcs)
	frames := runtime.CallersFrames(pcs[:n])
	for {
		f, more := frames.Next()
		name := f.Function[strings.LastIndex(f.Function, ".")+1:]
		if strings.HasSuffix(f.File, "main.go") && !strings.HasPrefix(name, "fail") &&
			!strings.HasPrefix(name, "expect") && !strings.HasPrefix(name, "await") &&
			!strings.HasPrefix(name, "waitFor") && !strings.HasPrefix(name, "must") &&
			!strings.HasPrefix(name, "open") {
			return fmt.Sprintf(" [main.go:%d]", f.Line)
		}
		if !more {
			return ""
		}
	}
}

func fail(format string, a ...interface{}) {
	panic(checkFailed{fmt.Sprintf(format, a...) + where()})
}

func expect(cond bool, format string, a ...interface{}) {
	if !cond {
		fail(format, a...)
	}
}

// expectErr fails unless err is want (nil for success).
func expectErr(err, want error, what string) {
	if err != want {
		fail("%s: got error %v, expected %v", what, err, want)
	}
}

func must(err error, what string) {
	if err != nil {
		fail("%s: unexpected error %v", what, err)
	}
}

func run(name string, fn func()) {
	t0 := time.Now()
	func() {
		defer func() {
			if r := recover(); r != nil {
				failures++
				if cf, ok := r.(checkFailed); ok {
					fmt.Printf("FAIL %s: %s\n", name, cf.msg)
				} else {
					buf := make([]byte, 4096)
					buf = buf[:runtime.Stack(buf, false)]
					fmt.Printf("FAIL %s: panic %v\n", name, r)
					fmt.Fprintf(os.Stderr, "panic in %s: %v\n%s\n", name, r, buf)
				}
			} else {
				fmt.Printf("ok %s\n", name)
			}
		}()
		fn()
	}()
	closeAll()
	fmt.Fprintf(os.Stderr, "# %s: %d ms\n", name, time.Since(t0).Milliseconds())
}

func closeAll() {
	openMu.Lock()
	ss := openSessions
	openSessions = nil
	openMu.Unlock()
	for _, s := range ss {
		s.d.restore() // a held-back dial would delay Close
		s.close()
	}
}

func P(s string) string { return root + s }

func waitFor(what string, d time.Duration, cond func() bool) {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			fail("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// awaitWatch takes the single event of a one-shot watch channel.
func awaitWatch(ch <-chan zk.Event, wantType zk.EventType, wantPath, what string) zk.Event {
	select {
	case ev, ok := <-ch:
		if !ok {
			fail("%s: watch channel closed without an event", what)
		}
		if ev.Type != wantType || ev.Path != wantPath || ev.Err != nil {
			fail("%s: got event %v %q err=%v, expected %v %q", what, ev.Type, ev.Path, ev.Err, wantType, wantPath)
		}
		// one-shot: go-zk closes the channel after delivering
		select {
		case ev2, ok := <-ch:
			if ok {
				fail("%s: second event %v on a one-shot watch", what, ev2)
			}
		case <-time.After(waitTimeout):
			fail("%s: watch channel not closed after its event", what)
		}
		return ev
	case <-time.After(waitTimeout):
		fail("%s: no %v for %q within %v", what, wantType, wantPath, waitTimeout)
	}
	return zk.Event{}
}

// ------------------------------------------------------------------ recording, cuttable dialer

type frame struct {
	xid    int32
	opcode int32 // requests
	err    int32 // replies
	size   int   // payload length (without the 4-byte length prefix)
}

// wireLog parses the frames of one direction of one TCP connection. The first frame is the
// connect request/response; the rest have request headers (xid, type) or reply headers
// (xid, zxid, err).
type wireLog struct {
	reply  bool
	buf    []byte
	frames []frame
}

func (w *wireLog) feed(p []byte) {
	w.buf = append(w.buf, p...)
	for len(w.buf) >= 4 {
		n := int(binary.BigEndian.Uint32(w.buf[:4]))
		if n < 0 || len(w.buf) < 4+n {
			return
		}
		body := w.buf[4 : 4+n]
		f := frame{size: n}
		if len(w.frames) > 0 {
			if w.reply && n >= 16 {
				f.xid = int32(binary.BigEndian.Uint32(body[0:4]))
				f.err = int32(binary.BigEndian.Uint32(body[12:16]))
			} else if !w.reply && n >= 8 {
				f.xid = int32(binary.BigEndian.Uint32(body[0:4]))
				f.opcode = int32(binary.BigEndian.Uint32(body[4:8]))
			}
		}
		w.frames = append(w.frames, f)
		w.buf = w.buf[4+n:]
	}
}

type recConn struct {
	net.Conn
	d        *dialer
	idx      int
	sent     wireLog
	received wireLog
}

func (c *recConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.d.mu.Lock()
		c.received.feed(p[:n])
		c.d.mu.Unlock()
	}
	return n, err
}

// Write records before writing: the reply may otherwise be read (and recorded) first.
// net.Conn.Write writes everything unless it fails, and then the connection is dead anyway.
func (c *recConn) Write(p []byte) (int, error) {
	c.d.mu.Lock()
	c.sent.feed(p)
	c.d.mu.Unlock()
	return c.Conn.Write(p)
}

type dialer struct {
	mu    sync.Mutex
	gate  chan struct{} // non-nil while connections are held back
	conns []*recConn    // every connection made, in order
}

func (d *dialer) dial(network, addr string, timeout time.Duration) (net.Conn, error) {
	d.mu.Lock()
	g := d.gate
	d.mu.Unlock()
	if g != nil {
		select {
		case <-g:
		case <-time.After(30 * time.Second):
			return nil, errors.New("test dialer: held back too long")
		}
	}
	c, err := net.DialTimeout(network, addr, timeout)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	rc := &recConn{Conn: c, d: d, idx: len(d.conns), received: wireLog{reply: true}}
	d.conns = append(d.conns, rc)
	return rc, nil
}

// cut closes the live connection and holds reconnection until restore.
func (d *dialer) cut() {
	d.mu.Lock()
	if d.gate == nil {
		d.gate = make(chan struct{})
	}
	conns := d.conns
	d.mu.Unlock()
	for _, c := range conns {
		c.Conn.Close()
	}
}

func (d *dialer) restore() {
	d.mu.Lock()
	if d.gate != nil {
		close(d.gate)
		d.gate = nil
	}
	d.mu.Unlock()
}

func (d *dialer) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.conns)
}

// snapshot returns copies of the frames of connection i.
func (d *dialer) snapshot(i int) (sent, received []frame) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := d.conns[i]
	return append([]frame(nil), c.sent.frames...), append([]frame(nil), c.received.frames...)
}

// ------------------------------------------------------------------ connections

type session struct {
	c      *zk.Conn
	d      *dialer
	events chan zk.Event // every session event, via the event callback
	once   sync.Once
}

// close closes the connection once (go-zk's Close panics when called twice).
func (s *session) close() { s.once.Do(s.c.Close) }

type quietLogger struct{}

func (quietLogger) Printf(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "# go-zk: "+format+"\n", a...)
}

func openT(timeout time.Duration) *session {
	s := &session{d: &dialer{}, events: make(chan zk.Event, 1000)}
	c, _, err := zk.Connect([]string{hostport}, timeout,
		zk.WithDialer(s.d.dial),
		zk.WithLogger(quietLogger{}),
		zk.WithLogInfo(false),
		zk.WithEventCallback(func(ev zk.Event) {
			select {
			case s.events <- ev:
			default:
			}
		}))
	if err != nil {
		fail("zk.Connect: %v", err)
	}
	s.c = c
	openMu.Lock()
	openSessions = append(openSessions, s)
	openMu.Unlock()
	s.awaitState(zk.StateHasSession, "initial session")
	return s
}

func open() *session { return openT(sessionTimeout) }

// awaitState consumes session events until one with state want arrives.
func (s *session) awaitState(want zk.State, what string) {
	var seen []string
	deadline := time.After(2 * waitTimeout)
	for {
		select {
		case ev := <-s.events:
			if ev.Type == zk.EventSession && ev.State == want {
				return
			}
			seen = append(seen, fmt.Sprintf("%v/%v", ev.Type, ev.State))
		case <-deadline:
			fail("%s: no %v within %v; saw %v", what, want, 2*waitTimeout, seen)
		}
	}
}

func (s *session) mk(path, data string) {
	_, err := s.c.Create(path, []byte(data), 0, zk.WorldACL(zk.PermAll))
	must(err, "create "+path)
}

// ------------------------------------------------------------------ checks

func checkConnect() {
	s := open()
	sid := s.c.SessionID()
	expect(sid != 0, "session id 0")
	expect(s.c.Server() == hostport, "server %q", s.c.Server())
	expect(s.c.State() == zk.StateHasSession, "state %v", s.c.State())
	sent, recv := s.d.snapshot(0)
	expect(len(sent) >= 1 && sent[0].size == 44,
		"go-zk ConnectRequest is %d bytes (expected the 44-byte form without readOnly)", sent[0].size)
	expect(len(recv) >= 1 && recv[0].size == 36,
		"ConnectResponse to a 44-byte request is %d bytes, expected 36 (no readOnly byte)", recv[0].size)
	s2 := open()
	expect(s2.c.SessionID() != sid && s2.c.SessionID() != 0, "second session 0x%x", s2.c.SessionID())
	ok, st, err := s.c.Exists("/")
	must(err, "exists /")
	expect(ok && st != nil, "/ missing")
	kids, _, err := s.c.Children("/")
	must(err, "children /")
	sort.Strings(kids)
	expect(sort.SearchStrings(kids, "zookeeper") < len(kids) && kids[sort.SearchStrings(kids, "zookeeper")] == "zookeeper",
		"/zookeeper not among %v", kids)
	okr := zk.FLWRuok([]string{hostport}, 5*time.Second)
	expect(len(okr) == 1 && okr[0], "FLWRuok %v", okr)
}

func checkCreateFlags() {
	s := open()
	other := open()
	acl := zk.WorldACL(zk.PermAll)
	s.mk(P("/cf"), "")
	p, err := s.c.Create(P("/cf/plain"), []byte("data"), 0, acl)
	must(err, "create persistent")
	expect(p == P("/cf/plain"), "returned path %q", p)
	_, err = s.c.Create(P("/cf/plain"), nil, 0, acl)
	expectErr(err, zk.ErrNodeExists, "create existing")
	_, err = s.c.Create(P("/cf/missing/child"), nil, 0, acl)
	expectErr(err, zk.ErrNoNode, "create under missing parent")

	e, err := s.c.Create(P("/cf/eph"), []byte("e"), zk.FlagEphemeral, acl)
	must(err, "create ephemeral")
	_, st, err := other.c.Get(e)
	must(err, "get ephemeral")
	expect(st.EphemeralOwner == s.c.SessionID(), "ephemeralOwner 0x%x, session 0x%x", st.EphemeralOwner, s.c.SessionID())
	_, err = s.c.Create(P("/cf/eph/kid"), nil, 0, acl)
	expectErr(err, zk.ErrNoChildrenForEphemerals, "child of an ephemeral")

	seqRe := regexp.MustCompile("^" + regexp.QuoteMeta(P("/cf/seq-")) + `(\d{10})$`)
	var seqs []int
	for i := 0; i < 3; i++ {
		q, err := s.c.Create(P("/cf/seq-"), []byte(strconv.Itoa(i)), zk.FlagSequence, acl)
		must(err, "create sequential")
		m := seqRe.FindStringSubmatch(q)
		expect(m != nil, "sequential path %q", q)
		n, _ := strconv.Atoi(m[1])
		seqs = append(seqs, n)
	}
	expect(seqs[1] == seqs[0]+1 && seqs[2] == seqs[1]+1, "sequence numbers %v", seqs)
	es, err := s.c.Create(P("/cf/eseq-"), nil, zk.FlagEphemeral|zk.FlagSequence, acl)
	must(err, "create ephemeral sequential")
	expect(regexp.MustCompile("^"+regexp.QuoteMeta(P("/cf/eseq-"))+`\d{10}$`).MatchString(es), "path %q", es)
	// the parent's cversion drives the counter: 1 plain + 1 eph + 3 seq + 1 eseq = 6 creates,
	// the eseq node got counter 5
	expect(strings.HasSuffix(es, "0000000005"), "ephemeral sequential counter in %q", es)
	pr, err := s.c.CreateProtectedEphemeralSequential(P("/cf/lock-"), []byte("p"), acl)
	must(err, "CreateProtectedEphemeralSequential")
	expect(regexp.MustCompile("^"+regexp.QuoteMeta(P("/cf/_c_"))+`[0-9a-f]{32}-lock-\d{10}$`).MatchString(pr),
		"protected path %q", pr)

	// ephemerals go with their session
	s.close()
	for _, q := range []string{e, es, pr} {
		ok, _, err := other.c.Exists(q)
		must(err, "exists "+q)
		expect(!ok, "%s survives its session's close", q)
	}
	ok, _, err := other.c.Exists(P("/cf/plain"))
	must(err, "exists plain")
	expect(ok, "persistent node gone with the session")
}

func checkCRUD() {
	s := open()
	other := open()
	s.mk(P("/crud"), "")
	s.mk(P("/crud/n"), "v0")
	data, st, err := s.c.Get(P("/crud/n"))
	must(err, "get")
	expect(string(data) == "v0" && st.Version == 0 && st.DataLength == 2 && st.Czxid == st.Mzxid && st.Czxid > 0,
		"get: %q %+v", data, st)
	st1, err := s.c.Set(P("/crud/n"), []byte("v1!"), 0)
	must(err, "set version 0")
	expect(st1.Version == 1 && st1.DataLength == 3 && st1.Mzxid > st.Mzxid && st1.Czxid == st.Czxid, "set stat %+v", st1)
	_, err = s.c.Set(P("/crud/n"), []byte("x"), 0)
	expectErr(err, zk.ErrBadVersion, "set stale version")
	st2, err := other.c.Set(P("/crud/n"), []byte("v2"), -1)
	must(err, "set -1")
	expect(st2.Version == 2, "unconditional set version %d", st2.Version)
	data, st, err = s.c.Get(P("/crud/n"))
	must(err, "get after set")
	expect(string(data) == "v2" && *st == *st2, "get %q %+v vs %+v", data, st, st2)
	_, _, err = s.c.Get(P("/crud/none"))
	expectErr(err, zk.ErrNoNode, "get missing")
	_, err = s.c.Set(P("/crud/none"), nil, -1)
	expectErr(err, zk.ErrNoNode, "set missing")
	ok, est, err := s.c.Exists(P("/crud/n"))
	must(err, "exists")
	expect(ok && *est == *st2, "exists %v %+v", ok, est)
	ok, _, err = s.c.Exists(P("/crud/none"))
	must(err, "exists missing")
	expect(!ok, "missing node exists")
	// empty and nil data
	s.mk(P("/crud/empty"), "")
	data, st, err = s.c.Get(P("/crud/empty"))
	must(err, "get empty")
	expect(len(data) == 0 && st.DataLength == 0, "empty node data %q", data)

	for _, k := range []string{"b", "a", "c"} {
		s.mk(P("/crud/n/"+k), k)
	}
	kids, cst, err := s.c.Children(P("/crud/n"))
	must(err, "children")
	sort.Strings(kids)
	expect(strings.Join(kids, ",") == "a,b,c", "children %v", kids)
	expect(cst.NumChildren == 3 && cst.Cversion == 3 && cst.Pzxid > cst.Mzxid, "parent stat %+v", cst)
	_, _, err = s.c.Children(P("/crud/none"))
	expectErr(err, zk.ErrNoNode, "children of missing")

	err = s.c.Delete(P("/crud/n"), -1)
	expectErr(err, zk.ErrNotEmpty, "delete non-empty")
	err = s.c.Delete(P("/crud/n/a"), 5)
	expectErr(err, zk.ErrBadVersion, "delete stale version")
	must(s.c.Delete(P("/crud/n/a"), 0), "delete version 0")
	err = s.c.Delete(P("/crud/n/a"), -1)
	expectErr(err, zk.ErrNoNode, "delete twice")
	must(s.c.Delete(P("/crud/n/b"), -1), "delete b")
	must(s.c.Delete(P("/crud/n/c"), -1), "delete c")
	must(s.c.Delete(P("/crud/n"), 2), "delete parent with version 2")
	ok, _, err = other.c.Exists(P("/crud/n"))
	must(err, "exists deleted")
	expect(!ok, "deleted node exists")

	p, err := s.c.Sync(P("/crud"))
	must(err, "sync")
	expect(p == P("/crud"), "sync returned %q", p)

	// bad paths are refused by the client library itself
	_, err = s.c.Create("no-slash", nil, 0, zk.WorldACL(zk.PermAll))
	expect(err != nil, "relative path accepted")
}

func checkWatches() {
	s := open()
	other := open()
	s.mk(P("/w"), "")
	s.mk(P("/w/d"), "0")

	_, _, ch, err := s.c.GetW(P("/w/d"))
	must(err, "GetW")
	_, err = other.c.Set(P("/w/d"), []byte("1"), -1)
	must(err, "set")
	awaitWatch(ch, zk.EventNodeDataChanged, P("/w/d"), "GetW after set")

	ok, _, ch, err := s.c.ExistsW(P("/w/later"))
	must(err, "ExistsW missing")
	expect(!ok, "later exists")
	other.mk(P("/w/later"), "")
	awaitWatch(ch, zk.EventNodeCreated, P("/w/later"), "ExistsW on a missing node")

	ok, _, ch, err = s.c.ExistsW(P("/w/later"))
	must(err, "ExistsW existing")
	expect(ok, "later missing")
	must(other.c.Delete(P("/w/later"), -1), "delete later")
	awaitWatch(ch, zk.EventNodeDeleted, P("/w/later"), "ExistsW on a deleted node")

	kids, _, ch, err := s.c.ChildrenW(P("/w"))
	must(err, "ChildrenW")
	expect(len(kids) == 1, "children %v", kids)
	other.mk(P("/w/k"), "")
	awaitWatch(ch, zk.EventNodeChildrenChanged, P("/w"), "ChildrenW after create")
	_, _, ch, err = s.c.ChildrenW(P("/w"))
	must(err, "ChildrenW again")
	must(other.c.Delete(P("/w/k"), -1), "delete k")
	awaitWatch(ch, zk.EventNodeChildrenChanged, P("/w"), "ChildrenW after delete")

	// a data watch fires NodeDeleted when its node goes; a child watch on the node too
	_, _, chd, err := s.c.GetW(P("/w/d"))
	must(err, "GetW d")
	_, _, chc, err := s.c.ChildrenW(P("/w/d"))
	must(err, "ChildrenW d")
	must(other.c.Delete(P("/w/d"), -1), "delete d")
	awaitWatch(chd, zk.EventNodeDeleted, P("/w/d"), "GetW on deleted node")
	awaitWatch(chc, zk.EventNodeDeleted, P("/w/d"), "ChildrenW on deleted node")

	// several watchers on the same node from one connection all fire
	s.mk(P("/w/multi"), "")
	_, _, c1, err := s.c.GetW(P("/w/multi"))
	must(err, "GetW 1")
	_, _, c2, err := s.c.GetW(P("/w/multi"))
	must(err, "GetW 2")
	_, _, c3, err := s.c.ExistsW(P("/w/multi"))
	must(err, "ExistsW 3")
	_, err = other.c.Set(P("/w/multi"), []byte("x"), -1)
	must(err, "set multi")
	awaitWatch(c1, zk.EventNodeDataChanged, P("/w/multi"), "first GetW")
	awaitWatch(c2, zk.EventNodeDataChanged, P("/w/multi"), "second GetW")
	awaitWatch(c3, zk.EventNodeDataChanged, P("/w/multi"), "ExistsW")

	// the change made by the watching connection itself also fires
	_, _, ch, err = s.c.GetW(P("/w/multi"))
	must(err, "GetW self")
	_, err = s.c.Set(P("/w/multi"), []byte("y"), -1)
	must(err, "self set")
	awaitWatch(ch, zk.EventNodeDataChanged, P("/w/multi"), "GetW after own set")
}

func checkMulti() {
	s := open()
	other := open()
	acl := zk.WorldACL(zk.PermAll)
	s.mk(P("/m"), "")
	s.mk(P("/m/base"), "0")
	s.mk(P("/m/gone"), "")
	// watches fire for what a multi changes, from another connection
	_, _, wBase, err := other.c.GetW(P("/m/base"))
	must(err, "GetW base")
	_, _, wKids, err := other.c.ChildrenW(P("/m"))
	must(err, "ChildrenW /m")
	_, _, wGone, err := other.c.ExistsW(P("/m/gone"))
	must(err, "ExistsW gone")
	res, err := s.c.Multi(
		&zk.CreateRequest{Path: P("/m/new"), Data: []byte("n"), Acl: acl, Flags: 0},
		&zk.CreateRequest{Path: P("/m/seq-"), Data: nil, Acl: acl, Flags: zk.FlagSequence},
		&zk.CheckVersionRequest{Path: P("/m/base"), Version: 0},
		&zk.SetDataRequest{Path: P("/m/base"), Data: []byte("1"), Version: 0},
		&zk.DeleteRequest{Path: P("/m/gone"), Version: 0},
	)
	must(err, "multi")
	expect(len(res) == 5, "%d results", len(res))
	for i, r := range res {
		expect(r.Error == nil, "result %d error %v", i, r.Error)
	}
	expect(res[0].String == P("/m/new"), "create result %q", res[0].String)
	expect(regexp.MustCompile("^"+regexp.QuoteMeta(P("/m/seq-"))+`\d{10}$`).MatchString(res[1].String),
		"sequential create result %q", res[1].String)
	expect(res[3].Stat != nil && res[3].Stat.Version == 1 && res[3].Stat.DataLength == 1, "setData result %+v", res[3].Stat)
	data, st, err := other.c.Get(P("/m/base"))
	must(err, "get base")
	expect(string(data) == "1" && st.Version == 1, "base after multi %q v%d", data, st.Version)
	_, nst, err := other.c.Get(P("/m/new"))
	must(err, "get new")
	expect(nst.Czxid == st.Mzxid, "multi ops at different zxids %d/%d", nst.Czxid, st.Mzxid)
	ok, _, _ := other.c.Exists(P("/m/gone"))
	expect(!ok, "deleted node still there")
	awaitWatch(wBase, zk.EventNodeDataChanged, P("/m/base"), "data watch on a node set by multi")
	awaitWatch(wKids, zk.EventNodeChildrenChanged, P("/m"), "child watch on the multi's parent")
	awaitWatch(wGone, zk.EventNodeDeleted, P("/m/gone"), "exists watch on a node deleted by multi")

	// failing multi: the check's stale version aborts everything
	res, err = s.c.Multi(
		&zk.CreateRequest{Path: P("/m/never"), Data: nil, Acl: acl},
		&zk.SetDataRequest{Path: P("/m/base"), Data: []byte("2"), Version: -1},
		&zk.CheckVersionRequest{Path: P("/m/base"), Version: 0},
		&zk.DeleteRequest{Path: P("/m/new"), Version: -1},
	)
	expectErr(err, zk.ErrBadVersion, "multi with a failing check")
	expect(len(res) == 4, "failed multi: %d results", len(res))
	// ZooKeeper reports OK (0) for the ops before the failure, BadVersion for the check and
	// RuntimeInconsistency (-2, which go-zk maps to ErrUnknown) for the ops after it
	expect(res[0].Error == nil && res[1].Error == nil && res[2].Error == zk.ErrBadVersion && res[3].Error == zk.ErrUnknown,
		"failed multi results %v / %v / %v / %v", res[0].Error, res[1].Error, res[2].Error, res[3].Error)
	ok, _, _ = other.c.Exists(P("/m/never"))
	expect(!ok, "failed multi created a node")
	data, _, _ = other.c.Get(P("/m/base"))
	expect(string(data) == "1", "failed multi changed data to %q", data)
	ok, _, _ = other.c.Exists(P("/m/new"))
	expect(ok, "failed multi deleted a node")

	_, err = s.c.Multi(&zk.CheckVersionRequest{Path: P("/m/none"), Version: -1})
	expectErr(err, zk.ErrNoNode, "check of a missing node")
	_, err = s.c.Multi(&zk.CreateRequest{Path: P("/m/new"), Acl: acl})
	expectErr(err, zk.ErrNodeExists, "multi create of an existing node")
	_, err = s.c.Multi(&zk.DeleteRequest{Path: P("/m"), Version: -1})
	expectErr(err, zk.ErrNotEmpty, "multi delete of a parent")
}

func checkAuthACL() {
	owner := open()
	anon := open()
	friend := open()
	stranger := open()
	must(owner.c.AddAuth("digest", []byte("gouser:gopass")), "AddAuth owner")
	must(friend.c.AddAuth("digest", []byte("gouser:gopass")), "AddAuth friend")
	must(stranger.c.AddAuth("digest", []byte("gouser:wrong")), "AddAuth stranger")
	owner.mk(P("/acl"), "")
	_, err := owner.c.Create(P("/acl/d"), []byte("secret"), 0, zk.DigestACL(zk.PermAll, "gouser", "gopass"))
	must(err, "create with DigestACL")
	_, _, err = anon.c.Get(P("/acl/d"))
	expectErr(err, zk.ErrNoAuth, "anonymous get")
	_, err = stranger.c.Set(P("/acl/d"), []byte("x"), -1)
	expectErr(err, zk.ErrNoAuth, "wrong password set")
	data, _, err := friend.c.Get(P("/acl/d"))
	must(err, "get with the same credentials")
	expect(string(data) == "secret", "data %q", data)
	acl, _, err := friend.c.GetACL(P("/acl/d"))
	must(err, "GetACL")
	want := zk.DigestACL(zk.PermAll, "gouser", "gopass")
	expect(len(acl) == 1 && acl[0] == want[0], "ACL %+v, expected %+v", acl, want)
	_, _, err = anon.c.GetACL(P("/acl/d"))
	expectErr(err, zk.ErrNoAuth, "anonymous GetACL (needs READ)")
	_, err = anon.c.Create(P("/acl/d/kid"), nil, 0, zk.WorldACL(zk.PermAll))
	expectErr(err, zk.ErrNoAuth, "anonymous create under a digest node")
	err = anon.c.Delete(P("/acl/d"), -1) // DELETE is checked on the parent, which is open
	must(err, "anonymous delete (parent grants DELETE)")
	_, err = owner.c.Create(P("/acl/d"), []byte("secret"), 0, zk.DigestACL(zk.PermAll, "gouser", "gopass"))
	must(err, "re-create")

	// AuthACL: the creator's authenticated ids
	_, err = owner.c.Create(P("/acl/a"), nil, 0, zk.AuthACL(zk.PermAll))
	must(err, "create with AuthACL")
	acl, _, err = owner.c.GetACL(P("/acl/a"))
	must(err, "GetACL auth")
	expect(len(acl) == 1 && acl[0] == want[0], "AuthACL became %+v, expected %+v", acl, want)
	// without ADMIN on the node, GetACL shows digest ids with the hash replaced by "x"
	_, err = owner.c.Create(P("/acl/r"), nil, 0, zk.AuthACL(zk.PermRead|zk.PermWrite))
	must(err, "create with AuthACL read|write")
	acl, _, err = owner.c.GetACL(P("/acl/r"))
	must(err, "GetACL read|write")
	expect(len(acl) == 1 && acl[0].Scheme == "digest" && acl[0].ID == "gouser:x" && acl[0].Perms == zk.PermRead|zk.PermWrite,
		"GetACL without ADMIN returned %+v, expected digest gouser:x", acl)
	_, err = anon.c.Create(P("/acl/x"), nil, 0, zk.AuthACL(zk.PermAll))
	expectErr(err, zk.ErrInvalidACL, "AuthACL without credentials")

	// SetACL with version; then world can read
	st, err := owner.c.SetACL(P("/acl/d"), append(zk.WorldACL(zk.PermRead), want...), 0)
	must(err, "SetACL")
	expect(st.Aversion == 1, "aversion %d", st.Aversion)
	_, err = owner.c.SetACL(P("/acl/d"), zk.WorldACL(zk.PermAll), 0)
	expectErr(err, zk.ErrBadVersion, "SetACL stale version")
	data, _, err = anon.c.Get(P("/acl/d"))
	must(err, "anonymous read after SetACL")
	_, err = anon.c.Set(P("/acl/d"), []byte("x"), -1)
	expectErr(err, zk.ErrNoAuth, "anonymous write after SetACL")
	_, err = owner.c.Create(P("/acl/bad"), nil, 0, []zk.ACL{{Perms: zk.PermAll, Scheme: "nosuch", ID: "x"}})
	expectErr(err, zk.ErrInvalidACL, "unknown ACL scheme")
}

func checkLockRecipe() {
	const conns, rounds = 3, 10
	s0 := open()
	s0.mk(P("/lock"), "")
	s0.mk(P("/lock/counter"), "0")
	var inside, maxInside int32
	var wg sync.WaitGroup
	errs := make(chan string, conns)
	for i := 0; i < conns; i++ {
		s := open()
		l := zk.NewLock(s.c, P("/lock/l"), zk.WorldACL(zk.PermAll))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				if err := l.Lock(); err != nil {
					errs <- "Lock: " + err.Error()
					return
				}
				n := atomic.AddInt32(&inside, 1)
				for {
					m := atomic.LoadInt32(&maxInside)
					if n <= m || atomic.CompareAndSwapInt32(&maxInside, m, n) {
						break
					}
				}
				d, _, err := s.c.Get(P("/lock/counter"))
				if err == nil {
					v, _ := strconv.Atoi(string(d))
					_, err = s.c.Set(P("/lock/counter"), []byte(strconv.Itoa(v+1)), -1)
				}
				atomic.AddInt32(&inside, -1)
				if err != nil {
					errs <- "counter: " + err.Error()
					return
				}
				if err := l.Unlock(); err != nil {
					errs <- "Unlock: " + err.Error()
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		fail("lock workers did not finish within 30 s")
	}
	close(errs)
	for e := range errs {
		fail("worker: %s", e)
	}
	expect(maxInside == 1, "up to %d holders at once", maxInside)
	d, _, err := s0.c.Get(P("/lock/counter"))
	must(err, "get counter")
	expect(string(d) == strconv.Itoa(conns*rounds), "counter %s, expected %d", d, conns*rounds)
	kids, _, err := s0.c.Children(P("/lock/l"))
	must(err, "children of lock")
	expect(len(kids) == 0, "lock nodes left %v", kids)
}

// setWatches after a reconnect: watches set before the connection is cut must be re-armed
// (setWatches 101 with the last zxid seen, ordinary xid) and fire for changes made while the
// client was away, and for later ones; the digest auth is re-sent (ordinary xid) first.
func checkReconnectSetWatches() {
	s := open()
	other := open()
	must(s.c.AddAuth("digest", []byte("rc:pw")), "AddAuth")
	s.mk(P("/rc"), "")
	s.mk(P("/rc/data"), "0")
	s.mk(P("/rc/quiet"), "0")
	s.mk(P("/rc/dir"), "")
	_, err := s.c.Create(P("/rc/secret"), []byte("s"), 0, zk.DigestACL(zk.PermAll, "rc", "pw"))
	must(err, "create digest node")
	sid := s.c.SessionID()

	_, _, wData, err := s.c.GetW(P("/rc/data"))
	must(err, "GetW data")
	_, _, wQuiet, err := s.c.GetW(P("/rc/quiet"))
	must(err, "GetW quiet")
	_, _, wDir, err := s.c.ChildrenW(P("/rc/dir"))
	must(err, "ChildrenW dir")
	ok, _, wMissing, err := s.c.ExistsW(P("/rc/missing"))
	must(err, "ExistsW missing")
	expect(!ok, "missing exists")
	_, _, wDel, err := s.c.ExistsW(P("/rc/quiet"))
	must(err, "ExistsW quiet")

	first := s.d.count()
	s.d.cut()
	s.awaitState(zk.StateDisconnected, "after the cut")
	// changes while the client is away
	_, err = other.c.Set(P("/rc/data"), []byte("1"), -1)
	must(err, "set while away")
	other.mk(P("/rc/dir/k"), "")
	other.mk(P("/rc/missing"), "")
	s.d.restore()
	s.awaitState(zk.StateHasSession, "reconnect")
	expect(s.c.SessionID() == sid, "session changed on reconnect: 0x%x -> 0x%x", sid, s.c.SessionID())
	awaitWatch(wData, zk.EventNodeDataChanged, P("/rc/data"), "data watch, change while away")
	awaitWatch(wDir, zk.EventNodeChildrenChanged, P("/rc/dir"), "child watch, change while away")
	awaitWatch(wMissing, zk.EventNodeCreated, P("/rc/missing"), "exists watch, created while away")
	// untouched watches are re-armed and fire later
	_, err = other.c.Set(P("/rc/quiet"), []byte("1"), -1)
	must(err, "set quiet")
	awaitWatch(wQuiet, zk.EventNodeDataChanged, P("/rc/quiet"), "data watch re-armed by setWatches")
	awaitWatch(wDel, zk.EventNodeDataChanged, P("/rc/quiet"), "exists watch re-armed by setWatches")
	// the re-sent auth works
	data, _, err := s.c.Get(P("/rc/secret"))
	must(err, "get digest node after reconnect")
	expect(string(data) == "s", "secret %q", data)

	// on the wire: the new connection carried setAuth (100) and setWatches (101) with positive
	// xids, and the server answered each with the same xid and no error
	expect(s.d.count() == first+1, "%d connections after one reconnect", s.d.count()-first)
	sent, recv := s.d.snapshot(first)
	expect(len(sent) > 0 && sent[0].size == 44, "reconnect ConnectRequest %d bytes", sent[0].size)
	expect(len(recv) > 0 && recv[0].size == 36, "reconnect ConnectResponse %d bytes, expected 36", recv[0].size)
	for _, op := range []int32{100, 101} {
		var req *frame
		for i := range sent[1:] {
			if sent[1+i].opcode == op {
				req = &sent[1+i]
				break
			}
		}
		expect(req != nil, "no opcode %d sent after the reconnect (sent %v)", op, sent)
		expect(req.xid > 0, "opcode %d sent with xid %d", op, req.xid)
		var rep *frame
		for i := range recv[1:] {
			if recv[1+i].xid == req.xid {
				rep = &recv[1+i]
				break
			}
		}
		expect(rep != nil, "no reply with xid %d to opcode %d (replies %v)", req.xid, op, recv)
		expect(rep.err == 0, "reply to opcode %d: err %d", op, rep.err)
	}
	expectRepliesInWireOrder(sent, recv)

	// a second cut with nothing changed: watches set after the first reconnect survive too
	_, _, w2, err := s.c.GetW(P("/rc/data"))
	must(err, "GetW again")
	s.d.cut()
	s.awaitState(zk.StateDisconnected, "second cut")
	s.d.restore()
	s.awaitState(zk.StateHasSession, "second reconnect")
	_, err = other.c.Set(P("/rc/data"), []byte("2"), -1)
	must(err, "set after second reconnect")
	awaitWatch(w2, zk.EventNodeDataChanged, P("/rc/data"), "data watch after the second reconnect")
}

// Session expiry: the client stays away past its session timeout; on return the server answers
// the ConnectRequest with sessionId 0, go-zk reports StateExpired, drops its watches
// (EventNotWatching) and starts a new session.
func checkSessionExpiry() {
	s := openT(4 * time.Second) // the minimum with tickTime=2000
	other := open()
	s.mk(P("/exp"), "")
	_, err := s.c.Create(P("/exp/eph"), nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll))
	must(err, "create ephemeral")
	_, _, w, err := s.c.GetW(P("/exp"))
	must(err, "GetW")
	sid := s.c.SessionID()
	first := s.d.count()
	s.d.cut()
	s.awaitState(zk.StateDisconnected, "after the cut")
	waitFor("the server to expire the session (ephemeral gone)", 20*time.Second, func() bool {
		ok, _, err := other.c.Exists(P("/exp/eph"))
		return err == nil && !ok
	})
	s.d.restore()
	s.awaitState(zk.StateExpired, "return after expiry")
	select {
	case ev := <-w:
		expect(ev.Type == zk.EventNotWatching && ev.Err == zk.ErrSessionExpired, "watch got %+v", ev)
	case <-time.After(waitTimeout):
		fail("watch not invalidated after expiry")
	}
	sent, recv := s.d.snapshot(first)
	expect(len(sent) > 0 && sent[0].size == 44, "ConnectRequest %d bytes", sent[0].size)
	expect(len(recv) > 0 && recv[0].size == 36, "expired-session ConnectResponse %d bytes, expected 36", recv[0].size)
	s.awaitState(zk.StateHasSession, "new session after expiry")
	sid2 := s.c.SessionID()
	expect(sid2 != 0 && sid2 != sid, "session after expiry 0x%x (was 0x%x)", sid2, sid)
	_, err = s.c.Create(P("/exp/eph"), nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll))
	must(err, "create ephemeral in the new session")
	_, st, err := other.c.Exists(P("/exp/eph"))
	must(err, "exists")
	expect(st.EphemeralOwner == sid2, "owner 0x%x", st.EphemeralOwner)
}

// Many goroutines share one connection: go-zk pipelines their requests; every reply must match
// its request and come back in request order.
func checkPipelining() {
	const workers, ops = 32, 30
	s := open()
	s.mk(P("/pipe"), "")
	var wg sync.WaitGroup
	errs := make(chan string, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			base := fmt.Sprintf("%s/w%02d", P("/pipe"), w)
			if _, err := s.c.Create(base, []byte("0"), 0, zk.WorldACL(zk.PermAll)); err != nil {
				errs <- "create " + err.Error()
				return
			}
			for i := 1; i <= ops; i++ {
				want := strconv.Itoa(i)
				st, err := s.c.Set(base, []byte(want), int32(i-1))
				if err != nil || st.Version != int32(i) {
					errs <- fmt.Sprintf("set %s #%d: %v %+v", base, i, err, st)
					return
				}
				d, _, err := s.c.Get(base)
				if err != nil || string(d) != want {
					errs <- fmt.Sprintf("get %s #%d: %v %q", base, i, err, d)
					return
				}
				if ok, _, err := s.c.Exists(base + "/none"); err != nil || ok {
					errs <- fmt.Sprintf("exists %s/none: %v %v", base, ok, err)
					return
				}
			}
		}(w)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		fail("pipelined workers did not finish within 30 s")
	}
	close(errs)
	for e := range errs {
		fail("worker: %s", e)
	}
	kids, _, err := s.c.Children(P("/pipe"))
	must(err, "children")
	expect(len(kids) == workers, "%d children", len(kids))
	sent, recv := s.d.snapshot(0)
	nreq, nrep := expectRepliesInWireOrder(sent, recv)
	expect(nreq >= workers*(1+3*ops) && nrep == nreq, "%d requests, %d replies", nreq, nrep)
}

// expectRepliesInWireOrder checks that the replies (positive xids; -1 events and -2 pings
// aside) answer the requests in the order they were written to the socket. go-zk assigns xids
// before queueing, so concurrent callers may put them on the wire out of numeric order.
func expectRepliesInWireOrder(sent, recv []frame) (nreq, nrep int) {
	var reqs, reps []int32
	for _, f := range sent[1:] {
		if f.xid > 0 {
			reqs = append(reqs, f.xid)
		}
	}
	for _, f := range recv[1:] {
		if f.xid > 0 {
			reps = append(reps, f.xid)
		}
	}
	expect(len(reps) <= len(reqs), "%d replies to %d requests", len(reps), len(reqs))
	for i, x := range reps {
		if x != reqs[i] {
			lo := i - 3
			if lo < 0 {
				lo = 0
			}
			hi := i + 4
			if hi > len(reps) {
				hi = len(reps)
			}
			fail("reply #%d has xid %d, but request #%d on the wire had xid %d (requests %v, replies %v)",
				i, x, i, reqs[i], reqs[lo:hi], reps[lo:hi])
		}
	}
	return len(reqs), len(reps)
}

func checkLargeData() {
	s := open()
	other := open()
	s.mk(P("/big"), "")
	big := bytes.Repeat([]byte("0123456789abcdef"), 64*1024) // 1 MiB - below jute.maxbuffer+slack
	big = big[:1000*1000]
	_, err := s.c.Create(P("/big/n"), big, 0, zk.WorldACL(zk.PermAll))
	must(err, "create 1 MB node")
	data, st, err := other.c.Get(P("/big/n"))
	must(err, "get 1 MB node")
	expect(bytes.Equal(data, big) && st.DataLength == int32(len(big)), "1 MB data differs (%d bytes)", len(data))
	// many children in one reply
	for i := 0; i < 200; i++ {
		_, err := s.c.Create(fmt.Sprintf("%s/k%03d", P("/big"), i), nil, 0, zk.WorldACL(zk.PermAll))
		must(err, "create child")
	}
	kids, st, err := other.c.Children(P("/big"))
	must(err, "children")
	expect(len(kids) == 201 && st.NumChildren == 201, "%d children", len(kids))
}

// ------------------------------------------------------------------ main

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: gozk_test HOST:PORT [name-filter]")
		os.Exit(2)
	}
	hostport = os.Args[1]
	filter := ""
	if len(os.Args) > 2 {
		filter = os.Args[2]
	}
	root = fmt.Sprintf("/gozk-%d", os.Getpid())
	t0 := time.Now()
	run("setup", func() {
		s := open()
		s.mk(root, "")
	})
	checks := []struct {
		name string
		fn   func()
	}{
		{"connect_handshake_44_byte", checkConnect},
		{"create_flags", checkCreateFlags},
		{"get_set_exists_children_delete_sync", checkCRUD},
		{"watches_getw_existsw_childrenw", checkWatches},
		{"multi_check_version", checkMulti},
		{"auth_digest_acl", checkAuthACL},
		{"lock_recipe_three_conns", checkLockRecipe},
		{"pipelined_requests_one_conn", checkPipelining},
		{"reconnect_set_watches_auth", checkReconnectSetWatches},
		{"session_expiry", checkSessionExpiry},
		{"large_data_and_children", checkLargeData},
	}
	for _, c := range checks {
		if filter == "" || strings.Contains(c.name, filter) {
			run(c.name, c.fn)
		}
	}
	if failures == 0 {
		fmt.Printf("all go-zookeeper checks passed in %d ms\n", time.Since(t0).Milliseconds())
		os.Exit(0)
	}
	fmt.Printf("%d go-zookeeper check(s) FAILED in %d ms\n", failures, time.Since(t0).Milliseconds())
	os.Exit(1)
}
