//! The priority of the store's background threads: the indexer and the checkpointer can
//! lower theirs when they start ([`SqliteOptions::background_nice`], off by default), so that
//! when the CPU is short, request handling (the runtime's workers, the writer, the readers)
//! runs first and the maintenance catches up in the idle time between.
//!
//! It is off by default because it helps only below saturation. Measured with the load
//! generator (2 cores shared with it, plain `/ws`), interleaved pairs against the same build
//! without: at 400,000 deliveries/s (about 94% of the CPU busy), six pairs, p99 4.3-4.9 ms
//! (median 4.5) against 4.8-5.9 ms (median 5.0), lower in every pair; but at 1,200,000/s (the
//! CPU full), p99 43 and 57 ms against 35 and 32, and with only the indexer lowered 42 and
//! 60 against 30 (only the checkpointer: no change either way). A starved indexer falls
//! behind in bursts and catches up in them. Whoever sets it gives up little else: the
//! writer's backstop checkpoint (see [`crate::open`]) caps the WAL if the checkpointer falls
//! behind, and a search that needs the index to catch up waits for the indexer, longer only
//! while the CPU is full.
//!
//! Niceness is per thread only on Linux; elsewhere this does nothing (`setpriority` would
//! change the whole process). A failure to change it is logged and otherwise ignored.
//!
//! [`SqliteOptions::background_nice`]: crate::SqliteOptions::background_nice

/// Adds `nice` to the calling thread's niceness (capped at 19, the lowest priority). Does
/// nothing for `nice <= 0`: raising a priority needs a privilege the store does not assume.
pub(crate) fn lower_priority(nice: i32) {
    if nice <= 0 {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        use rustix::process::{getpriority_process, setpriority_process};
        let me = Some(rustix::thread::gettid());
        let changed = getpriority_process(me).and_then(|current| {
            let target = current.saturating_add(nice).min(19);
            if target > current {
                setpriority_process(me, target)
            } else {
                Ok(())
            }
        });
        if let Err(e) = changed {
            tracing::debug!(error = %e, "could not lower a background thread's priority");
        }
    }
}

/// The calling thread's niceness, where it is per thread.
#[cfg(all(test, target_os = "linux"))]
pub(crate) fn niceness() -> i32 {
    rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap_or(i32::MIN)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn only_the_calling_thread_is_lowered_and_never_past_19() {
        let before = niceness();
        let lowered = std::thread::spawn(|| {
            let start = niceness();
            lower_priority(5);
            let once = niceness();
            lower_priority(100);
            let capped = niceness();
            lower_priority(0);
            lower_priority(-5);
            (start, once, capped, niceness())
        })
        .join()
        .unwrap();
        let (start, once, capped, after_noops) = lowered;
        assert_eq!(once, (start + 5).min(19));
        assert_eq!(capped, 19);
        assert_eq!(after_noops, 19, "zero and negative leave it alone");
        assert_eq!(niceness(), before, "other threads keep theirs");
    }
}
