//! The process's open-files limit: a server with a cap of N connections needs about N file
//! descriptors, more than the usual soft limit of 1,024, so it raises the soft limit at start
//! up to the hard one, as Go programs do, and warns when that is still short.

/// File descriptors the process needs besides its connections: the listener, the database and
/// its write-ahead logs, the runtime's own.
const SPARE_FILES: u64 = 256;

/// Raises the soft limit on open files so `max_connections` connections fit (up to the hard
/// limit, as Go programs do at start), and warns when they still do not.
#[cfg(unix)]
pub fn raise_open_files_limit(max_connections: usize) {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let needed = u64::try_from(max_connections)
        .unwrap_or(u64::MAX)
        .saturating_add(SPARE_FILES);
    let limit = getrlimit(Resource::Nofile);
    let current = limit.current.unwrap_or(u64::MAX);
    if current >= needed {
        return;
    }
    let target = limit.maximum.map_or(needed, |hard| hard.min(needed));
    let raised = target > current
        && setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(target),
                maximum: limit.maximum,
            },
        )
        .is_ok();
    let now = if raised { target } else { current };
    if now < needed {
        tracing::warn!(
            open_files_limit = now,
            max_connections,
            "the open-files limit is below --max-connections; past it accepts fail until \
             connections close (raise it with `ulimit -n` or LimitNOFILE=)"
        );
    }
}

/// Raises the soft limit on open files (nothing to do on this platform).
#[cfg(not(unix))]
pub fn raise_open_files_limit(_max_connections: usize) {}
