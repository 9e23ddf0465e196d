//! Long-lived streams: one task per stream watches the snapshots and sends
//! the caller's answer when it changed, and a per-uid count bounds how many
//! streams one user's processes can hold open.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use crate::snapshot::Snapshot;

/// Open streams per uid.
#[derive(Debug, Default)]
pub(crate) struct StreamSlots {
    open: Mutex<HashMap<u32, usize>>,
}

/// One open stream; its slot is given back when it drops.
pub(crate) struct Slot {
    slots: Arc<StreamSlots>,
    uid: u32,
}

impl StreamSlots {
    /// A slot for `uid`, unless it already holds `max`.
    pub(crate) fn take(self: &Arc<Self>, uid: u32, max: usize) -> Option<Slot> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(uid).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(Slot {
            slots: Arc::clone(self),
            uid,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.uid) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.uid);
            }
        }
    }
}

/// The stream of `answer(snapshot, selectors)`: the first answer once the
/// agent has synced, then each different one; `PermissionDenied` and the
/// end when the caller matches nothing. Ends on shutdown, when the agent
/// stops publishing, or when the client goes away (the send side closes).
pub(crate) fn spawn<T>(
    mut snapshots: watch::Receiver<Arc<Snapshot>>,
    mut stop: watch::Receiver<bool>,
    selectors: Vec<String>,
    slot: Slot,
    answer: fn(&Snapshot, &[String]) -> Option<T>,
) -> ReceiverStream<Result<T, Status>>
where
    T: Clone + PartialEq + Send + Sync + 'static,
{
    let (tx, rx) = mpsc::channel(1);
    tokio::spawn(async move {
        let _slot = slot;
        let mut last: Option<T> = None;
        loop {
            let snap = Arc::clone(&snapshots.borrow_and_update());
            // Before the first sync there is nothing to say yet: wait
            // rather than refuse a workload that started with its agent.
            if !snap.trust_domain.is_empty() {
                match answer(&snap, &selectors) {
                    None => {
                        let denied = Err(Status::permission_denied("no identity issued"));
                        send(&tx, denied, &mut stop).await;
                        return;
                    }
                    Some(now) if last.as_ref() != Some(&now) => {
                        if !send(&tx, Ok(now.clone()), &mut stop).await {
                            return;
                        }
                        last = Some(now);
                    }
                    Some(_) => {}
                }
            }
            tokio::select! {
                changed = snapshots.changed() => if changed.is_err() { return },
                _ = stop.wait_for(|s| *s) => return,
                () = tx.closed() => return,
            }
        }
    });
    ReceiverStream::new(rx)
}

/// Sends one item; false when the client is gone or the server stops. A
/// client that stops reading fills the channel and the HTTP/2 window: the
/// send then waits, but never past shutdown.
async fn send<T>(
    tx: &mpsc::Sender<Result<T, Status>>,
    item: Result<T, Status>,
    stop: &mut watch::Receiver<bool>,
) -> bool {
    tokio::select! {
        sent = tx.send(item) => sent.is_ok(),
        _ = stop.wait_for(|s| *s) => false,
    }
}
