//! Child processes: the test binary re-executed to run one ignored test as the child's body.
//!
//! A suite declares an entry, an ignored test that returns at once when its variables are
//! absent (so a plain `cargo test -- --ignored` run passes through it):
//!
//! ```no_run
//! #[test]
//! #[ignore = "child process entry point"]
//! fn child_entry() {
//!     let Some((role, dir)) = tensorbus_testkit::child_role() else { return };
//!     let ns = tensorbus_testkit::open(&dir);
//!     match role.as_str() {
//!         "hold" => { /* ... */ }
//!         other => panic!("unknown role {other}"),
//!     }
//! }
//! ```
//!
//! and the parent starts it with [`role_child`] (or [`child`] for an entry of its own, with its
//! own variables), waits with the `Command`/`Child` API or through a [`crate::Peer`], and ends
//! it with [`kill9`].

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The ignored test that [`role_child`] runs.
pub const ROLE_ENTRY: &str = "child_entry";
/// The role the child plays (read by [`child_role`]).
pub const ROLE_VAR: &str = "TB_CHILD_ROLE";
/// The namespace directory the child works in (read by [`child_role`]).
pub const DIR_VAR: &str = "TB_CHILD_DIR";

/// The libtest arguments that run only the ignored test `entry`, on one thread, with its output.
pub fn entry_args(entry: &str) -> [&str; 6] {
    ["--exact", entry, "--nocapture", "--ignored", "--test-threads=1", "-q"]
}

/// This test binary, to run only the ignored test `entry`; stdin is closed.
pub fn child(entry: &str) -> Command {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args(entry_args(entry)).stdin(Stdio::null());
    c
}

/// `program args... <this test binary> <entry_args(entry)>`: the child started through a wrapper
/// (`unshare --pid ...`, `setpriv --reuid ... --`); stdin is closed.
pub fn child_via(program: &str, args: &[&str], entry: &str) -> Command {
    let mut c = Command::new(program);
    c.args(args).arg(std::env::current_exe().unwrap()).args(entry_args(entry)).stdin(Stdio::null());
    c
}

/// [`child`] of [`ROLE_ENTRY`] playing `role` in the namespace directory `dir`.
pub fn role_child(role: &str, dir: &Path) -> Command {
    let mut c = child(ROLE_ENTRY);
    c.env(ROLE_VAR, role).env(DIR_VAR, dir);
    c
}

/// In a child entry: the role and directory it was started with ([`ROLE_VAR`], [`DIR_VAR`]);
/// None in an ordinary test run.
pub fn child_role() -> Option<(String, PathBuf)> {
    let (Ok(role), Some(dir)) = (std::env::var(ROLE_VAR), std::env::var_os(DIR_VAR)) else { return None };
    Some((role, PathBuf::from(dir)))
}

/// SIGKILL `child` (no chance to unregister or release anything) and reap it.
pub fn kill9(child: &mut Child) {
    // SAFETY: kill has no memory-safety preconditions; the pid is our own child, not yet
    // waited for, so it cannot name a recycled pid.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGKILL) }, 0);
    child.wait().unwrap();
}

/// A child that is killed and reaped when the guard drops, so a failed test leaves none behind.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
