//! Wakeups on the topic's futex words (protocol in `sleepers.rs`): a send bumps `notify` and
//! wakes receivers only when the `sleepers` bitmap is non-zero (SeqCst Dekker pair with the
//! receiver's registration), so a blocking receive costs a futex sleep and no busy loop; a
//! subscriber that advances or leaves bumps `progress` for reliable writers
//! (`writer_sleepers`) the same way. The bitmaps (one bit per process) heal themselves: a
//! sleeper killed in its sleep costs at most the next waker one futile wake.

use super::seg::RingSeg;
use crate::namespace::Namespace;
use crate::sleepers::{self, Sleeper};

impl RingSeg {
    /// A send published: wake receivers sleeping on `notify`.
    #[inline]
    pub(super) fn wake_readers(&self) {
        let h = self.header();
        sleepers::notify(&h.notify, &h.sleepers, Some(&h.wakes), Some(&h.woke_ns));
    }

    /// A subscriber advanced or left: wake reliable writers sleeping on `progress`.
    #[inline]
    pub(super) fn wake_writers(&self) {
        let h = self.header();
        sleepers::notify(&h.progress, &h.writer_sleepers, Some(&h.wakes), None);
    }

    /// Register the calling thread as a receiver about to sleep on `notify`; the registration
    /// ends when the returned guard drops.
    pub(crate) fn receiver_sleeper(&self, ns: &Namespace) -> Sleeper<'_> {
        let h = self.header();
        Sleeper::enter(&h.notify, &h.sleepers, ns.holder_index(), &self.readers)
    }

    /// Register the calling thread as a reliable writer about to sleep on `progress`.
    pub(super) fn writer_sleeper(&self, ns: &Namespace) -> Sleeper<'_> {
        let h = self.header();
        Sleeper::enter(&h.progress, &h.writer_sleepers, ns.holder_index(), &self.writers)
    }
}
