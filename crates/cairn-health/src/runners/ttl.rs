//! TTL checks: critical with `TTL expired` unless fed within the TTL.
//!
//! The deadline lives in the shared table, so an update only moves it there; the task wakes at
//! the old deadline, sees the new one and sleeps again. A task is only woken explicitly when a
//! deadline reappears after the TTL had run out. Ten thousand fed TTL checks therefore cost one
//! timer each and about one wake-up per TTL.

use crate::registry::{Reporter, TtlNext};

/// Runs the TTL timer of one check until it is removed or replaced.
pub(crate) async fn run(reporter: Reporter) {
    loop {
        match reporter.ttl_next() {
            TtlNext::Stop => return,
            TtlNext::Idle(wake) => wake.notified().await,
            TtlNext::At(deadline) => {
                tokio::time::sleep_until(deadline).await;
                reporter.ttl_expire_if_due();
            }
        }
    }
}
