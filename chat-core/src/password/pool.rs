//! [`HashPool`]: password hashing as a bounded resource. One argon2id hash takes its cost's
//! memory (19 MiB by default) and tens of milliseconds of CPU, and anyone can ask for one: a
//! signup, or a login naming an unknown user. The pool runs hashes on at most `threads`
//! dedicated threads, each reusing one work buffer, lets `queue` more wait, and refuses the rest
//! at once with [`ChatError::Busy`]. Memory stays within `threads` buffers, an accepted hash
//! waits for about `queue / threads` hash times at most, and a flood costs refusals, not memory.

use super::WorkMemory;
use crate::{ChatError, HashCost, HashingConfig};
use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::oneshot;

/// Work for a hashing thread. It drops the [`Finished`] before it answers, so a caller that
/// has its answer finds the job's place free again.
type Job = Box<dyn for<'a> FnOnce(&mut WorkMemory, Finished<'a>) + Send>;

/// Frees a job's place in the pool when dropped, however the job ends.
struct Finished<'a>(&'a Shared);

impl Drop for Finished<'_> {
    fn drop(&mut self) {
        self.0.lock().in_flight -= 1;
    }
}

/// A bounded pool of password hashing threads. Threads start on demand, up to the configured
/// number, and stay until the pool is dropped; each gives its work buffer back after
/// [`HashingConfig::release_after`] without work.
///
/// Dropping the pool stops it: its threads answer the hashes already accepted, then exit.
/// The drop does not wait for them (it may happen on an async worker thread).
pub struct HashPool {
    shared: Arc<Shared>,
    cost: HashCost,
    threads: usize,
    capacity: usize,
    release_after: Duration,
}

struct Shared {
    state: Mutex<State>,
    /// Signalled when a job is queued or the pool closes.
    wake: Condvar,
}

#[derive(Default)]
struct State {
    /// Accepted jobs no thread has taken yet.
    jobs: VecDeque<Job>,
    /// Accepted jobs not finished: queued or running.
    in_flight: usize,
    /// Threads running.
    threads: usize,
    /// Threads waiting for a job.
    idle: usize,
    /// The pool was dropped: threads exit once `jobs` is empty.
    closed: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock; a poisoned state is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What a hashing thread does next.
enum Next {
    Run(Job),
    /// Idle for `release_after`: give the work buffer back.
    Release,
    Exit,
}

impl HashPool {
    /// A pool hashing with `cost`, bounded by `config`. No thread starts before the first hash.
    pub fn new(config: HashingConfig, cost: HashCost) -> HashPool {
        let threads = config.threads.max(1);
        HashPool {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                wake: Condvar::new(),
            }),
            cost,
            threads,
            capacity: threads.saturating_add(config.queue),
            release_after: config.release_after,
        }
    }

    /// The cost new hashes are made with.
    pub fn cost(&self) -> HashCost {
        self.cost
    }

    /// How many hashes may be in flight (running or waiting) before new ones are refused.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Hashes accepted and not yet finished: running or waiting for a thread.
    pub fn in_flight(&self) -> usize {
        self.shared.lock().in_flight
    }

    /// Hashes `password` with argon2id, the pool's cost and a fresh random salt; returns the
    /// PHC string. Fails with [`ChatError::Busy`] at once when the pool is full.
    pub async fn hash(&self, password: &str) -> Result<String, ChatError> {
        let (password, cost) = (password.to_owned(), self.cost);
        self.run(move |memory| super::hash_with(memory, &password, cost))
            .await
    }

    /// Checks `password` against a PHC string (with the string's own parameters). A malformed
    /// string is a mismatch. Fails with [`ChatError::Busy`] at once when the pool is full.
    pub async fn verify(&self, password: &str, phc: &str) -> Result<bool, ChatError> {
        let (password, phc) = (password.to_owned(), phc.to_owned());
        self.run(move |memory| super::verify_with(memory, &password, &phc))
            .await
    }

    /// Runs `work` on a pool thread and waits for its answer. When the caller stops waiting
    /// before a thread takes the job, the work is skipped.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut WorkMemory) -> Result<T, ChatError> + Send + 'static,
    ) -> Result<T, ChatError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Box::new(move |memory, finished| {
            if !reply.is_closed() {
                let answer = work(memory);
                drop(finished);
                // The caller may have gone meanwhile; then nobody needs the answer.
                let _ = reply.send(answer);
            }
        }))?;
        answer
            .await
            .map_err(|_| ChatError::Internal("a password hashing thread stopped".into()))?
    }

    fn submit(&self, job: Job) -> Result<(), ChatError> {
        let mut state = self.shared.lock();
        if state.in_flight >= self.capacity {
            return Err(ChatError::Busy);
        }
        state.in_flight += 1;
        state.jobs.push_back(job);
        // Jobs beyond the idle threads need a new thread, while there may be more.
        if state.jobs.len() > state.idle && state.threads < self.threads {
            match self.spawn(state.threads) {
                Ok(()) => state.threads += 1,
                Err(e) if state.threads == 0 => {
                    state.jobs.pop_back();
                    state.in_flight -= 1;
                    return Err(ChatError::Internal(format!(
                        "cannot start a password hashing thread: {e}"
                    )));
                }
                // The running threads will take the job.
                Err(e) => tracing::warn!(error = %e, "cannot start a password hashing thread"),
            }
        }
        drop(state);
        self.shared.wake.notify_one();
        Ok(())
    }

    fn spawn(&self, n: usize) -> std::io::Result<()> {
        let shared = Arc::clone(&self.shared);
        let release_after = self.release_after;
        std::thread::Builder::new()
            .name(format!("chat-hash-{n}"))
            .spawn(move || work(&shared, release_after))
            .map(drop)
    }
}

/// A hashing thread: runs jobs with one reused work buffer until the pool closes.
fn work(shared: &Shared, release_after: Duration) {
    /// Counts the thread out however it ends.
    struct Leaving<'a>(&'a Shared);
    impl Drop for Leaving<'_> {
        fn drop(&mut self) {
            self.0.lock().threads -= 1;
        }
    }
    let _leaving = Leaving(shared);
    let mut memory = WorkMemory::default();
    loop {
        match next(shared, memory.is_held(), release_after) {
            Next::Run(job) => job(&mut memory, Finished(shared)),
            Next::Release => memory.release(),
            Next::Exit => return,
        }
    }
}

fn next(shared: &Shared, holding: bool, release_after: Duration) -> Next {
    let mut state = shared.lock();
    loop {
        if let Some(job) = state.jobs.pop_front() {
            return Next::Run(job);
        }
        if state.closed {
            return Next::Exit;
        }
        state.idle += 1;
        let timed_out = if holding {
            let (guard, wait) = shared
                .wake
                .wait_timeout(state, release_after)
                .unwrap_or_else(PoisonError::into_inner);
            state = guard;
            wait.timed_out()
        } else {
            state = shared
                .wake
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
            false
        };
        state.idle -= 1;
        if timed_out && state.jobs.is_empty() && !state.closed {
            return Next::Release;
        }
    }
}

impl Drop for HashPool {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.wake.notify_all();
    }
}

impl fmt::Debug for HashPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HashPool")
            .field("cost", &self.cost)
            .field("threads", &self.threads)
            .field("capacity", &self.capacity)
            .field("in_flight", &self.in_flight())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    const COST: HashCost = HashCost::FAST_INSECURE_FOR_TESTS;

    fn pool(threads: usize, queue: usize) -> HashPool {
        HashPool::new(
            HashingConfig {
                threads,
                queue,
                release_after: Duration::from_secs(60),
            },
            COST,
        )
    }

    /// Occupies a pool thread until the returned sender is sent to or dropped; returns once a
    /// thread has taken the job, with a receiver that resolves when the job is done.
    async fn park(pool: &HashPool) -> (std::sync::mpsc::Sender<()>, oneshot::Receiver<()>) {
        let (release, parked) = std::sync::mpsc::channel::<()>();
        let (started, running) = oneshot::channel();
        let (done, finished) = oneshot::channel();
        pool.submit(Box::new(move |_, finished| {
            let _ = started.send(());
            let _ = parked.recv();
            drop(finished);
            let _ = done.send(());
        }))
        .unwrap();
        running.await.unwrap();
        (release, finished)
    }

    /// Polls `f` for up to five seconds.
    async fn eventually(mut f: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !f() {
            assert!(Instant::now() < deadline, "condition not met in time");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[tokio::test]
    async fn hashes_verify_and_wrong_passwords_do_not() {
        let pool = pool(2, 2);
        let phc = pool.hash("correct horse").await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=256,t=1,p=1$"), "{phc}");
        assert!(pool.verify("correct horse", &phc).await.unwrap());
        assert!(!pool.verify("Correct horse", &phc).await.unwrap());
        assert!(
            !pool
                .verify("correct horse", "$argon2id$v=19$")
                .await
                .unwrap()
        );
        assert!(!pool.verify("correct horse", "").await.unwrap());
        assert_eq!(pool.in_flight(), 0);
    }

    #[tokio::test]
    async fn a_full_pool_refuses_at_once_with_busy() {
        let pool = pool(1, 1);
        assert_eq!(pool.capacity(), 2);
        let (release, parked) = park(&pool).await;
        // The queue's one place.
        let queued = {
            let fut = pool.hash("waits its turn");
            tokio::pin!(fut);
            assert!(
                futures::poll!(fut.as_mut()).is_pending(),
                "the queued hash waits"
            );
            assert_eq!(pool.in_flight(), 2);
            // Thread and queue are full: refused without waiting.
            let started = Instant::now();
            assert!(matches!(pool.hash("refused").await, Err(ChatError::Busy)));
            assert!(matches!(
                pool.verify("refused", "x").await,
                Err(ChatError::Busy)
            ));
            assert!(started.elapsed() < Duration::from_millis(100));
            release.send(()).unwrap();
            parked.await.unwrap();
            fut.await
        };
        let phc = queued.unwrap();
        assert!(pool.verify("waits its turn", &phc).await.unwrap());
        eventually(|| pool.in_flight() == 0).await;
        // Room again.
        pool.hash("fits again").await.unwrap();
    }

    #[tokio::test]
    async fn with_no_queue_only_the_threads_take_work() {
        let pool = pool(1, 0);
        let (release, parked) = park(&pool).await;
        assert!(matches!(pool.hash("x").await, Err(ChatError::Busy)));
        drop(release);
        parked.await.unwrap();
        eventually(|| pool.in_flight() == 0).await;
        pool.hash("x").await.unwrap();
    }

    #[tokio::test]
    async fn each_thread_reuses_one_buffer() {
        let pool = pool(1, 0);
        for i in 0..5 {
            let phc = pool.hash(&format!("password {i}")).await.unwrap();
            assert!(pool.verify(&format!("password {i}"), &phc).await.unwrap());
        }
        let (allocations, capacity, bytes) = pool
            .run(|memory| Ok((memory.allocations, memory.blocks.capacity(), memory.bytes())))
            .await
            .unwrap();
        assert_eq!(allocations, 1, "ten hashes, one allocation");
        assert!(capacity >= super::super::OWN_MAPPING_BLOCKS);
        assert_eq!(bytes, 256 * 1024);
    }

    #[tokio::test]
    async fn idle_threads_give_their_buffer_back() {
        let pool = HashPool::new(
            HashingConfig {
                threads: 1,
                queue: 0,
                release_after: Duration::from_millis(20),
            },
            COST,
        );
        pool.hash("x").await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let held = pool.run(|memory| Ok(memory.is_held())).await.unwrap();
        assert!(!held, "released after 20 ms without work");
        pool.hash("y").await.unwrap();
    }

    #[tokio::test]
    async fn threads_start_on_demand_and_exit_when_the_pool_is_dropped() {
        let pool = pool(3, 0);
        let shared = Arc::clone(&pool.shared);
        assert_eq!(shared.lock().threads, 0, "no thread before the first hash");
        let parked = [park(&pool).await, park(&pool).await];
        assert_eq!(shared.lock().threads, 2);
        pool.hash("third").await.unwrap();
        assert_eq!(shared.lock().threads, 3);
        drop(pool);
        // The parked jobs were accepted: they are still answered.
        for (release, finished) in parked {
            release.send(()).unwrap();
            finished.await.unwrap();
        }
        eventually(|| shared.lock().threads == 0).await;
        assert_eq!(shared.lock().in_flight, 0);
    }

    #[tokio::test]
    async fn an_abandoned_request_is_skipped() {
        let pool = pool(1, 1);
        let (release, parked) = park(&pool).await;
        let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
        {
            let ran = Arc::clone(&ran);
            let fut = pool.run(move |_| {
                ran.store(true, std::sync::atomic::Ordering::SeqCst);
                Ok(())
            });
            tokio::pin!(fut);
            assert!(futures::poll!(fut.as_mut()).is_pending());
        } // Dropped while queued.
        release.send(()).unwrap();
        parked.await.unwrap();
        eventually(|| pool.in_flight() == 0).await;
        assert!(!ran.load(std::sync::atomic::Ordering::SeqCst));
    }
}
