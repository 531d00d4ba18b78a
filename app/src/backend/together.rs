//! Work made together: the requests that arrive while one is at the database wait, and the
//! next turn does all of them at once (a group commit, or a group read).
//!
//! Each request queues its item and waits for its turn. Whoever gets the turn takes every item
//! queued so far and hands them to the work, which answers each. A turn only takes items
//! queued before it began, so no answer is older than its request: a read sees what a read
//! of its own would have seen, a commit is on disk before its request is answered. Alone, a
//! request pays one turn, as it would without this; a crowd pays one per round trip.

use std::future::Future;
use std::sync::Mutex;

use tokio::sync::oneshot;

/// A queued item and where its answer goes.
pub type Waiting<T, R> = (T, oneshot::Sender<R>);

/// Items of type `T` done together, each answered with an `R`.
pub struct Together<T, R> {
    waiting: Mutex<Vec<Waiting<T, R>>>,
    turns: tokio::sync::Semaphore,
}

/// One turn at a time.
impl<T, R> Default for Together<T, R> {
    fn default() -> Self {
        Self::new(1)
    }
}

impl<T, R> Together<T, R> {
    /// At most `turns` turns at once: more than one keeps a round trip's idle time busy (while
    /// one commit waits for the disk, the next is already on its way).
    pub fn new(turns: usize) -> Self {
        Self { waiting: Mutex::new(Vec::new()), turns: tokio::sync::Semaphore::new(turns.max(1)) }
    }
}

impl<T: Send + 'static, R: Send + 'static> Together<T, R> {
    /// Queues `item` and returns its answer, from this request's turn or an earlier one that
    /// took it. `work` gets every item its turn takes and must answer each; it runs on a task
    /// of its own, so that a client that hangs up leaves nobody else unanswered. `None` when
    /// the work dropped the item unanswered (it panicked).
    pub async fn run<F, Fut>(&self, item: T, work: F) -> Option<R>
    where
        F: FnOnce(Vec<Waiting<T, R>>) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (answer, mut answered) = oneshot::channel();
        self.waiting.lock().expect("queue").push((item, answer));
        let turn = self.turns.acquire().await.expect("never closed");
        if let Ok(r) = answered.try_recv() {
            return Some(r);
        }
        let taken = std::mem::take(&mut *self.waiting.lock().expect("queue"));
        if !taken.is_empty() {
            let _ = tokio::spawn(work(taken)).await;
        }
        drop(turn);
        answered.await.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_crowd_shares_turns_and_each_gets_its_own_answer() {
        let together = Arc::new(Together::<u32, u32>::default());
        let turns = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..64u32)
            .map(|i| {
                let (together, turns) = (together.clone(), turns.clone());
                tokio::spawn(async move {
                    together
                        .run(i, move |items| async move {
                            turns.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                            for (n, answer) in items {
                                let _ = answer.send(n * 2);
                            }
                        })
                        .await
                })
            })
            .collect();
        for (i, t) in tasks.into_iter().enumerate() {
            assert_eq!(t.await.unwrap(), Some(i as u32 * 2), "each request gets the answer to its own item");
        }
        let turns = turns.load(Ordering::SeqCst);
        assert!(turns < 64, "requests that waited together shared a turn ({turns} turns for 64)");
    }

    #[tokio::test]
    async fn alone_a_request_takes_its_own_turn() {
        let together = Together::<u32, u32>::default();
        for i in 0..3 {
            let got = together
                .run(i, |items| async move {
                    assert_eq!(items.len(), 1);
                    for (n, answer) in items {
                        let _ = answer.send(n + 1);
                    }
                })
                .await;
            assert_eq!(got, Some(i + 1));
        }
    }

    #[tokio::test]
    async fn an_item_the_work_drops_is_none() {
        let together = Together::<u32, u32>::default();
        assert_eq!(together.run(1, |items| async move { drop(items) }).await, None);
    }
}
