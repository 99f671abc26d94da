//! A child that reports through stdout lines (`READY ...`, `RESULT key=value ...`): a channel
//! that keeps working when the segments themselves are stopped, killed or scribbled on.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A running child and the reader of its stdout. Dropping it kills and reaps the child, so a
/// failed test never leaves one behind (stopped, or asleep for a minute).
pub struct Peer {
    /// The child process.
    pub child: Child,
    out: BufReader<ChildStdout>,
}

impl Peer {
    /// Spawn `cmd` with its stdout piped to this peer; stderr stays as `cmd` sets it (piped, its
    /// text is added to the failure messages of [`Peer::line`] and [`Peer::finish`]).
    pub fn spawn(mut cmd: Command) -> Peer {
        let mut child = cmd.stdout(Stdio::piped()).spawn().unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        Peer { child, out }
    }

    /// The first stdout line starting with `prefix` (trimmed); a child that exits before
    /// printing it fails the test.
    pub fn line(&mut self, prefix: &str) -> String {
        let mut l = String::new();
        loop {
            l.clear();
            if self.out.read_line(&mut l).unwrap() == 0 {
                let err = self.stderr();
                panic!("child exited before printing {prefix}: status {:?}\n{err}", self.child.wait());
            }
            if l.starts_with(prefix) {
                return l.trim().to_string();
            }
        }
    }

    /// The child's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Send `sig` (SIGSTOP, SIGCONT, ...) to the child.
    pub fn signal(&self, sig: i32) {
        // SAFETY: kill has no memory-safety preconditions; the pid is our own child, not yet
        // waited for, so it cannot name a recycled pid.
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, sig) }, 0);
    }

    /// SIGKILL the child and reap it.
    pub fn kill9(&mut self) {
        self.signal(libc::SIGKILL);
        self.child.wait().unwrap();
    }

    /// Wait for a clean exit (not a signal, not a panic) and return its `RESULT` line. A child
    /// that has not exited after two minutes is hung: it is killed and the test fails (rather
    /// than hang `make test`).
    pub fn finish(mut self) -> String {
        let done = Arc::new(AtomicBool::new(false));
        let watchdog = {
            let (done, pid) = (done.clone(), self.child.id() as i32);
            std::thread::spawn(move || {
                let start = Instant::now();
                // Relaxed: a flag polled by this thread only; the kill below is the only effect.
                while !done.load(Ordering::Relaxed) {
                    if start.elapsed() > Duration::from_secs(120) {
                        eprintln!("child {pid} hung for 120 s: killing it");
                        // SAFETY: kill has no memory-safety preconditions; the pid is our
                        // child, not yet waited for (finish waits only after the flag is set).
                        unsafe { libc::kill(pid, libc::SIGKILL) };
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            })
        };
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.line("RESULT")));
        // Relaxed: see the watchdog loop; join below orders the rest.
        done.store(true, Ordering::Relaxed);
        watchdog.join().unwrap();
        let result = result.unwrap_or_else(|e| std::panic::resume_unwind(e));
        let err = self.stderr();
        let st = self.child.wait().unwrap();
        assert!(st.success(), "victim died: {st:?} (a signal here would be a SIGBUS/SIGSEGV)\n{err}");
        result
    }

    /// What the child wrote to a piped stderr (empty when stderr is not piped).
    fn stderr(&mut self) -> String {
        let mut err = String::new();
        if let Some(e) = self.child.stderr.as_mut() {
            let _ = e.read_to_string(&mut err);
        }
        err
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        // A reaped child is not signalled again (std keeps its exit status).
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of `key=<number>` in a report line (`RESULT sent=12 recv=9`); a missing key fails.
pub fn field(line: &str, key: &str) -> u64 {
    line.split_whitespace().find_map(|kv| kv.strip_prefix(key).and_then(|v| v.strip_prefix('='))).unwrap_or_else(|| panic!("{key} in {line}")).parse().unwrap()
}
